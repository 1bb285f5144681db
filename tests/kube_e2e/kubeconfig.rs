//! Kubeconfigs for the stand-in API server, written the way `aws eks
//! update-kubeconfig` writes them (CA data, a user, one context), with a
//! static bearer token in place of the `aws eks get-token` exec plugin.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The cluster, context and user name, like an EKS cluster ARN.
pub(crate) const CLUSTER: &str = "arn:aws:eks:us-east-1:111122223333:cluster/e2e";
/// The bearer token kubectl sends (the server accepts any).
const TOKEN: &str = "k8s-aws-v1.ZTJlLXRlc3QtdG9rZW4";

/// Writes `dir/NAME` for `server` (e.g. `https://kube-api.eks.internal:PORT`)
/// trusting `ca_pem`; returns its path.
pub(crate) fn write(
    dir: &Path,
    name: &str,
    server: &str,
    ca_pem: &str,
) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, render(server, ca_pem))?;
    Ok(path)
}

fn render(server: &str, ca_pem: &str) -> String {
    let ca_data = STANDARD.encode(ca_pem);
    format!(
        "\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca_data}
    server: {server}
  name: {CLUSTER}
contexts:
- context:
    cluster: {CLUSTER}
    namespace: default
    user: {CLUSTER}
  name: {CLUSTER}
current-context: {CLUSTER}
preferences: {{}}
users:
- name: {CLUSTER}
  user:
    token: {TOKEN}
"
    )
}
