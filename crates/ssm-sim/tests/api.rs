//! The SSM API over HTTP: wire shapes, error shapes and behaviour of each
//! operation, driven in-process through the router and once over a real
//! loopback listener.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use ssm_sim::config::{InstanceConfig, SimConfig};
use ssm_sim::registry::Registry;
use ssm_sim::service::Service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const GATEWAY: &str = "ws://127.0.0.1:9";
const BASTION: &str = "i-0123456789abcdef0";
const OFFLINE: &str = "i-0off000000000000c";
const PORT_DOC: &str = "AWS-StartPortForwardingSession";

/// A response, decoded.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts an AWS JSON 1.1 error with `code`.
    fn assert_error(&self, code: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{self:?}");
        assert_eq!(self.header("x-amzn-errortype"), code, "{self:?}");
        assert_eq!(self.body["__type"], code, "{self:?}");
        assert!(
            self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{self:?}"
        );
        assert_eq!(self.header("content-type"), "application/x-amz-json-1.1");
        assert_request_id(self);
    }

    /// Asserts a 200 and returns the body.
    fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        assert_eq!(self.header("content-type"), "application/x-amz-json-1.1");
        assert_request_id(&self);
        self.body
    }
}

fn assert_request_id(reply: &Reply) {
    let id = reply.header("x-amzn-requestid");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "request id {id:?}");
}

fn api_with(config: SimConfig) -> Router {
    let service = Service::new(
        Arc::new(config),
        Arc::new(Registry::default()),
        GATEWAY.into(),
    );
    ssm_sim::api::router(service)
}

fn api() -> Router {
    api_with(SimConfig::default())
}

async fn send(router: &Router, target: Option<&str>, body: impl Into<Body>) -> Reply {
    let mut request = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20241128/us-east-1/ssm/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-target, Signature=00",
        );
    if let Some(target) = target {
        request = request.header("x-amz-target", target);
    }
    let response = router
        .clone()
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn call(router: &Router, operation: &str, input: Value) -> Reply {
    send(
        router,
        Some(&format!("AmazonSSM.{operation}")),
        input.to_string(),
    )
    .await
}

async fn start(router: &Router, input: Value) -> Value {
    call(router, "StartSession", input).await.ok()
}

async fn start_shell(router: &Router) -> String {
    let out = start(router, json!({ "Target": BASTION })).await;
    out["SessionId"].as_str().unwrap().to_owned()
}

async fn sessions(router: &Router, input: Value) -> Value {
    call(router, "DescribeSessions", input).await.ok()
}

fn session_ids(page: &Value) -> Vec<String> {
    page["Sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|session| session["SessionId"].as_str().unwrap().to_owned())
        .collect()
}

async fn instances(router: &Router, input: Value) -> Reply {
    call(router, "DescribeInstanceInformation", input).await
}

async fn instance_ids(router: &Router, input: Value) -> Vec<String> {
    let out = instances(router, input).await.ok();
    out["InstanceInformationList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|info| info["InstanceId"].as_str().unwrap().to_owned())
        .collect()
}

fn keys(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn start_session_returns_id_token_and_stream_url() {
    let router = api();
    let out = start(&router, json!({ "Target": BASTION })).await;
    assert_eq!(keys(&out), ["SessionId", "TokenValue", "StreamUrl"]);
    let session_id = out["SessionId"].as_str().unwrap();
    let url = out["StreamUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{GATEWAY}/")), "{url}");
    assert!(
        url.contains(&format!("{session_id}?role=publish_subscribe")),
        "{url}"
    );
    assert!(!out["TokenValue"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn start_session_with_document_parameters_and_reason() {
    let router = api();
    let out = start(
        &router,
        json!({
            "Target": BASTION,
            "DocumentName": PORT_DOC,
            "Parameters": { "portNumber": ["8080"], "localPortNumber": ["0"] },
            "Reason": "debugging"
        }),
    )
    .await;
    let active = sessions(&router, json!({ "State": "Active" })).await;
    let session = &active["Sessions"][0];
    assert_eq!(session["SessionId"], out["SessionId"]);
    assert_eq!(session["Target"], BASTION);
    assert_eq!(session["DocumentName"], PORT_DOC);
    assert_eq!(session["Status"], "Connected");
    assert_eq!(session["Reason"], "debugging");
    assert_eq!(session["OutputUrl"], json!({}));
    assert!(
        session["Owner"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:iam::")
    );
    assert!(session["StartDate"].as_f64().unwrap() > 1.7e9);
    assert!(session.get("EndDate").is_none());
}

#[tokio::test]
async fn start_session_on_unknown_or_offline_target_is_not_connected() {
    let router = api();
    for target in ["i-0000000000000dead", OFFLINE] {
        let reply = call(&router, "StartSession", json!({ "Target": target })).await;
        reply.assert_error("TargetNotConnected");
        assert!(reply.body["message"].as_str().unwrap().contains(target));
    }
}

#[tokio::test]
async fn start_session_rejects_unknown_documents() {
    let router = api();
    let input = json!({ "Target": BASTION, "DocumentName": "AWS-NoSuchDocument" });
    call(&router, "StartSession", input)
        .await
        .assert_error("InvalidDocument");
}

#[tokio::test]
async fn start_session_rejects_bad_parameters() {
    let router = api();
    for parameters in [
        json!({ "bogus": ["1"] }),
        json!({ "portNumber": ["70000"] }),
        json!({ "portNumber": ["80", "81"] }),
    ] {
        let input =
            json!({ "Target": BASTION, "DocumentName": PORT_DOC, "Parameters": parameters });
        call(&router, "StartSession", input)
            .await
            .assert_error("InvalidParameters");
    }
}

#[tokio::test]
async fn start_session_validates_its_shape() {
    let router = api();
    call(&router, "StartSession", json!({}))
        .await
        .assert_error("ValidationException");
    call(&router, "StartSession", json!({ "Target": "" }))
        .await
        .assert_error("ValidationException");
    let long_reason = "x".repeat(257);
    let input = json!({ "Target": BASTION, "Reason": long_reason });
    call(&router, "StartSession", input)
        .await
        .assert_error("ValidationException");
    let wrong_type = json!({ "Target": 5 });
    call(&router, "StartSession", wrong_type)
        .await
        .assert_error("SerializationException");
}

#[tokio::test]
async fn resume_live_session_issues_a_fresh_token() {
    let router = api();
    let first = start(&router, json!({ "Target": BASTION })).await;
    let resumed = call(
        &router,
        "ResumeSession",
        json!({ "SessionId": first["SessionId"] }),
    )
    .await
    .ok();
    assert_eq!(keys(&resumed), ["SessionId", "TokenValue", "StreamUrl"]);
    assert_eq!(resumed["SessionId"], first["SessionId"]);
    assert_eq!(resumed["StreamUrl"], first["StreamUrl"]);
    assert_ne!(resumed["TokenValue"], first["TokenValue"]);
}

#[tokio::test]
async fn resume_unknown_session_does_not_exist() {
    let router = api();
    let reply = call(&router, "ResumeSession", json!({ "SessionId": "sim-nope" })).await;
    reply.assert_error("DoesNotExistException");
    call(&router, "ResumeSession", json!({}))
        .await
        .assert_error("ValidationException");
}

#[tokio::test]
async fn terminated_session_moves_to_history_and_cannot_resume() {
    let router = api();
    let session_id = start_shell(&router).await;
    let out = call(
        &router,
        "TerminateSession",
        json!({ "SessionId": session_id }),
    )
    .await
    .ok();
    assert_eq!(out, json!({ "SessionId": session_id }));
    let filter = json!([{ "key": "SessionId", "value": session_id }]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !session_ids(&sessions(&router, json!({ "State": "Active", "Filters": filter })).await)
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let history = sessions(&router, json!({ "State": "History", "Filters": filter })).await;
    let session = &history["Sessions"][0];
    assert_eq!(session["Status"], "Terminated");
    assert!(session["EndDate"].as_f64().unwrap() >= session["StartDate"].as_f64().unwrap());
    let resumed = call(&router, "ResumeSession", json!({ "SessionId": session_id }))
        .await
        .ok();
    assert_eq!(resumed, json!({ "SessionId": session_id }));
}

#[tokio::test]
async fn terminate_unknown_session_succeeds() {
    let router = api();
    let out = call(
        &router,
        "TerminateSession",
        json!({ "SessionId": "sim-nope" }),
    )
    .await
    .ok();
    assert_eq!(out, json!({ "SessionId": "sim-nope" }));
}

#[tokio::test]
async fn describe_sessions_separates_active_from_history() {
    let router = api();
    let session_id = start_shell(&router).await;
    let active = sessions(&router, json!({ "State": "Active" })).await;
    assert_eq!(session_ids(&active), [session_id]);
    assert!(active.get("NextToken").is_none());
    let history = sessions(&router, json!({ "State": "History" })).await;
    assert_eq!(history, json!({ "Sessions": [] }));
}

#[tokio::test]
async fn describe_sessions_validates_state_and_max_results() {
    let router = api();
    for input in [
        json!({}),
        json!({ "State": "Running" }),
        json!({ "State": "Active", "MaxResults": 0 }),
        json!({ "State": "Active", "MaxResults": 201 }),
        json!({ "State": "Active", "Filters": [{ "key": "Colour", "value": "red" }] }),
        json!({ "State": "Active", "Filters": [{ "key": "InvokedAfter", "value": "soon" }] }),
    ] {
        call(&router, "DescribeSessions", input)
            .await
            .assert_error("ValidationException");
    }
    let bad_token = json!({ "State": "Active", "NextToken": "not-a-token" });
    call(&router, "DescribeSessions", bad_token)
        .await
        .assert_error("InvalidNextToken");
}

#[tokio::test]
async fn describe_sessions_filters() {
    let router = api();
    let shell = start_shell(&router).await;
    let node = start(&router, json!({ "Target": "i-0eks0000000000001" })).await;
    let node = node["SessionId"].as_str().unwrap().to_owned();
    let filtered =
        |filters: Value| sessions(&router, json!({ "State": "Active", "Filters": filters }));

    let by_target = filtered(json!([{ "key": "Target", "value": "i-0eks0000000000001" }])).await;
    assert_eq!(session_ids(&by_target), [node.as_str()]);
    let by_id = filtered(json!([{ "key": "SessionId", "value": shell }])).await;
    assert_eq!(session_ids(&by_id), [shell.as_str()]);
    let by_status = filtered(json!([{ "key": "Status", "value": "Connected" }])).await;
    assert_eq!(session_ids(&by_status).len(), 2);
    let none = filtered(json!([{ "key": "Status", "value": "Terminated" }])).await;
    assert!(session_ids(&none).is_empty());
    let after = filtered(json!([{ "key": "InvokedAfter", "value": "2000-01-01T00:00:00Z" }])).await;
    assert_eq!(session_ids(&after).len(), 2);
    let future =
        filtered(json!([{ "key": "InvokedAfter", "value": "2999-01-01T00:00:00Z" }])).await;
    assert!(session_ids(&future).is_empty());
    let both = filtered(json!([
        { "key": "Target", "value": BASTION },
        { "key": "SessionId", "value": node }
    ]))
    .await;
    assert!(session_ids(&both).is_empty(), "filters must AND");
}

#[tokio::test]
async fn describe_sessions_paginates() {
    let router = api();
    let mut started = Vec::new();
    for _ in 0..5 {
        started.push(start_shell(&router).await);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let mut input = json!({ "State": "Active", "MaxResults": 2 });
        if let Some(token) = token.take() {
            input["NextToken"] = token;
        }
        let page = sessions(&router, input).await;
        let ids = session_ids(&page);
        assert!(ids.len() <= 2);
        seen.extend(ids);
        match page.get("NextToken") {
            Some(next) => token = Some(next.clone()),
            None => break,
        }
    }
    seen.sort();
    started.sort();
    assert_eq!(seen, started, "every session exactly once");
}

#[tokio::test]
async fn describe_instance_information_reports_the_fleet() {
    let router = api();
    let out = instances(&router, json!({})).await.ok();
    let list = out["InstanceInformationList"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(out.get("NextToken").is_none());
    let bastion = list
        .iter()
        .find(|info| info["InstanceId"] == BASTION)
        .unwrap();
    for key in [
        "InstanceId",
        "PingStatus",
        "LastPingDateTime",
        "AgentVersion",
        "IsLatestVersion",
        "PlatformType",
        "PlatformName",
        "PlatformVersion",
        "ResourceType",
        "IPAddress",
        "ComputerName",
        "AssociationStatus",
    ] {
        assert!(bastion.get(key).is_some(), "missing {key}");
    }
    assert_eq!(bastion["PingStatus"], "Online");
    assert_eq!(bastion["PlatformType"], "Linux");
    assert_eq!(bastion["PlatformName"], "Amazon Linux");
    assert_eq!(bastion["PlatformVersion"], "2023");
    assert_eq!(bastion["ResourceType"], "EC2Instance");
    assert_eq!(bastion["AssociationStatus"], "Success");
    assert_eq!(bastion["IPAddress"], "10.0.0.10");
    assert_eq!(bastion["IsLatestVersion"], false);
    assert!(bastion["LastPingDateTime"].as_f64().unwrap() > 1.7e9);
    let offline = list
        .iter()
        .find(|info| info["InstanceId"] == OFFLINE)
        .unwrap();
    assert_eq!(offline["PingStatus"], "ConnectionLost");
    let newest = list
        .iter()
        .find(|info| info["AgentVersion"] == "3.3.1142.0")
        .unwrap();
    assert_eq!(newest["IsLatestVersion"], true);
}

#[tokio::test]
async fn describe_instance_information_filters() {
    let router = api();
    let filter =
        |key: &str, values: &[&str]| json!({ "Filters": [{ "Key": key, "Values": values }] });
    let ids = |input: Value| instance_ids(&router, input);

    assert_eq!(
        ids(filter("InstanceIds", &["i-0eks0000000000002", BASTION])).await,
        [BASTION, "i-0eks0000000000002"]
    );
    assert_eq!(
        ids(filter("PingStatus", &["ConnectionLost", "Inactive"])).await,
        [OFFLINE]
    );
    assert_eq!(ids(filter("PingStatus", &["Online"])).await.len(), 4);
    assert_eq!(
        ids(filter("AgentVersion", &["3.0.161.0"])).await,
        ["i-0old000000000000b"]
    );
    assert_eq!(ids(filter("PlatformTypes", &["Linux"])).await.len(), 5);
    assert!(ids(filter("PlatformTypes", &["Windows"])).await.is_empty());
    assert_eq!(ids(filter("ResourceType", &["EC2Instance"])).await.len(), 5);
    assert!(
        ids(filter("ResourceType", &["ManagedInstance"]))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(filter("tag:eks:cluster-name", &["demo"])).await,
        ["i-0eks0000000000001", "i-0eks0000000000002"]
    );
    assert_eq!(
        ids(filter("tag:Name", &["bastion", "offline"])).await,
        [BASTION, OFFLINE]
    );
    assert_eq!(ids(filter("tag-key", &["env"])).await, [BASTION]);
    let anded = json!({ "Filters": [
        { "Key": "tag:eks:cluster-name", "Values": ["demo"] },
        { "Key": "AgentVersion", "Values": ["3.3.987.0"] }
    ]});
    assert_eq!(ids(anded).await, ["i-0eks0000000000001"]);
    let legacy = json!({ "InstanceInformationFilterList": [
        { "key": "PingStatus", "valueSet": ["Online"] },
        { "key": "AgentVersion", "valueSet": ["3.3.987.0"] }
    ]});
    assert_eq!(ids(legacy).await, [BASTION, "i-0eks0000000000001"]);
}

#[tokio::test]
async fn describe_instance_information_rejects_bad_filters() {
    let router = api();
    let filter =
        |key: &str, values: &[&str]| json!({ "Filters": [{ "Key": key, "Values": values }] });
    instances(&router, filter("Colour", &["red"]))
        .await
        .assert_error("InvalidFilterKey");
    let bad_status = filter("PingStatus", &["Sleeping"]);
    instances(&router, bad_status)
        .await
        .assert_error("InvalidInstanceInformationFilterValue");
    let two_types = filter("ResourceType", &["EC2Instance", "ManagedInstance"]);
    instances(&router, two_types)
        .await
        .assert_error("InvalidInstanceInformationFilterValue");
    instances(&router, filter("InstanceIds", &[]))
        .await
        .assert_error("ValidationException");
    let legacy_tag =
        json!({ "InstanceInformationFilterList": [{ "key": "tag:Name", "valueSet": ["x"] }] });
    instances(&router, legacy_tag)
        .await
        .assert_error("ValidationException");
    for max in [4, 51] {
        instances(&router, json!({ "MaxResults": max }))
            .await
            .assert_error("ValidationException");
    }
    let bad_token = json!({ "NextToken": "garbage" });
    instances(&router, bad_token)
        .await
        .assert_error("InvalidNextToken");
}

#[tokio::test]
async fn describe_instance_information_paginates_by_instance_id() {
    let fleet = (0..12)
        .rev()
        .map(|n| InstanceConfig::new(&format!("i-{n:017x}"), &[("Name", "web")]))
        .collect();
    let router = api_with(SimConfig {
        instances: fleet,
        ..SimConfig::default()
    });
    let mut pages = Vec::new();
    let mut token: Option<Value> = None;
    loop {
        let mut input =
            json!({ "MaxResults": 5, "Filters": [{ "Key": "tag:Name", "Values": ["web"] }] });
        if let Some(token) = token.take() {
            input["NextToken"] = token;
        }
        let page = instances(&router, input).await.ok();
        pages.push(page["InstanceInformationList"].as_array().unwrap().len());
        match page.get("NextToken") {
            Some(next) => token = Some(next.clone()),
            None => break,
        }
    }
    assert_eq!(pages, [5, 5, 2]);
    let all = instance_ids(&router, json!({})).await;
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);

    let sessions_token = json!({ "MaxResults": 5, "NextToken": "73657373696f6e730a78" });
    instances(&router, sessions_token)
        .await
        .assert_error("InvalidNextToken");
}

#[tokio::test]
async fn unknown_operations_and_bad_bodies_are_rejected() {
    let router = api();
    call(&router, "SendCommand", json!({}))
        .await
        .assert_error("UnknownOperationException");
    send(&router, Some("AmazonEC2.DescribeInstances"), "{}")
        .await
        .assert_error("UnknownOperationException");
    send(&router, None, "{}")
        .await
        .assert_error("UnknownOperationException");
    send(&router, Some("AmazonSSM.StartSession"), "{not json")
        .await
        .assert_error("SerializationException");
    send(&router, Some("AmazonSSM.DescribeSessions"), "[]")
        .await
        .assert_error("SerializationException");
    let empty = send(&router, Some("AmazonSSM.DescribeInstanceInformation"), "").await;
    assert_eq!(
        empty.ok()["InstanceInformationList"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn serves_over_loopback_until_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = Service::new(
        Arc::new(SimConfig::default()),
        Arc::new(Registry::default()),
        GATEWAY.into(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ssm_sim::api::serve(listener, service, async {
        let _ = stopped.await;
    }));

    let body = r#"{"Target":"i-0off000000000000c"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: AmazonSSM.StartSession\r\n\
         Content-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(
        head.contains("x-amzn-errortype: targetnotconnected"),
        "{head}"
    );
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["__type"], "TargetNotConnected");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops after shutdown")
        .unwrap()
        .unwrap();
}
