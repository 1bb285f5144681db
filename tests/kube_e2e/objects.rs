//! The JSON documents the stand-in Kubernetes API server returns: the
//! version, discovery (`/api`, `/apis`, `/api/v1`), two pods as a `Pod`,
//! a `PodList` or a `meta.k8s.io/v1` `Table`, and `Status` errors, shaped
//! like a real API server's answers so kubectl parses them unchanged.

use serde_json::{Value, json};

/// The pods in namespace `default`.
pub(crate) const PODS: [&str; 2] = ["web-0", "web-1"];
/// Their one container.
const CONTAINER: &str = "web";
/// Creation time of everything.
const CREATED: &str = "2026-01-01T00:00:00Z";
/// What `/version` reports as `gitVersion`.
pub(crate) const GIT_VERSION: &str = "v1.32.4-ssm-e2e";

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": CREATED,
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`: the legacy core group's versions.
pub(crate) fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:443"}
        ]
    })
}

/// `/apis`: no named groups (kubectl then uses the core group only).
pub(crate) fn api_group_list() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
}

/// `/api/v1`: pods and their log subresource.
pub(crate) fn core_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": ["po"], "categories": ["all"]
            },
            {
                "name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod",
                "verbs": ["get"]
            },
            {
                "name": "namespaces", "singularName": "namespace", "namespaced": false,
                "kind": "Namespace", "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": ["ns"]
            }
        ]
    })
}

/// One pod, as `GET .../pods/NAME` returns it.
pub(crate) fn pod(name: &str) -> Value {
    json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": metadata(name),
        "spec": {
            "containers": [{"name": CONTAINER, "image": "nginx:1.27"}],
            "nodeName": "ip-10-0-1-23.ec2.internal"
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.1.10",
            "startTime": CREATED,
            "containerStatuses": [{
                "name": CONTAINER, "ready": true, "started": true, "restartCount": 0,
                "image": "nginx:1.27", "imageID": "", "containerID": "",
                "state": {"running": {"startedAt": CREATED}}
            }]
        }
    })
}

/// Every pod as a `PodList`.
pub(crate) fn pod_list() -> Value {
    json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": PODS.iter().map(|name| pod(name)).collect::<Vec<_>>()
    })
}

/// Every pod as the server-side printed `Table` kubectl asks for.
pub(crate) fn pod_table() -> Value {
    let column = |name: &str, format: &str| json!({"name": name, "type": "string", "format": format, "description": name, "priority": 0});
    let rows: Vec<Value> = PODS
        .iter()
        .map(|name| {
            json!({
                "cells": [name, "1/1", "Running", "0", "5m"],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata(name)
                }
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [
            column("Name", "name"), column("Ready", ""), column("Status", ""),
            column("Restarts", ""), column("Age", "")
        ],
        "rows": rows
    })
}

/// The namespaces there are.
pub(crate) const NAMESPACES: [&str; 3] = ["default", "kube-system", "team-a"];

/// Every namespace as a `NamespaceList`.
pub(crate) fn namespace_list() -> Value {
    let items: Vec<Value> = NAMESPACES
        .iter()
        .map(|name| {
            json!({
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": namespace_metadata(name),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}
            })
        })
        .collect();
    json!({
        "kind": "NamespaceList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": items
    })
}

/// Every namespace as the printed `Table` kubectl asks for.
pub(crate) fn namespace_table() -> Value {
    let column = |name: &str, format: &str| json!({"name": name, "type": "string", "format": format, "description": name, "priority": 0});
    let rows: Vec<Value> = NAMESPACES
        .iter()
        .map(|name| {
            json!({
                "cells": [name, "Active", "5m"],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": namespace_metadata(name)
                }
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [column("Name", "name"), column("Status", ""), column("Age", "")],
        "rows": rows
    })
}

fn namespace_metadata(name: &str) -> Value {
    json!({
        "name": name,
        "uid": format!("00000000-0000-4000-9000-{:0>12}", name.replace('-', "")),
        "resourceVersion": "1",
        "creationTimestamp": CREATED
    })
}

fn metadata(name: &str) -> Value {
    json!({
        "name": name,
        "namespace": "default",
        "uid": format!("00000000-0000-4000-8000-{:0>12}", name.replace('-', "")),
        "resourceVersion": "1",
        "creationTimestamp": CREATED,
        "labels": {"app": "web"}
    })
}

/// A `Status` failure, as every API error is reported.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code
    })
}
