//! EKS: the cluster answers DescribeCluster, is serving, and has an
//! endpoint a node can reach (private access, or public through the
//! NAT); the kubeconfig has the context `eks connect` writes
//! (`ssm-CLUSTER`).

use aws_config::SdkConfig;

use super::report::Check;
use crate::eks::cluster::{self, ClusterError};
use crate::eks::context;
use crate::kubeconfig::Kubeconfig;

/// The cluster checks.
pub async fn cluster(config: &SdkConfig, name: &str) -> Check {
    let client = aws_sdk_eks::Client::new(config);
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    match cluster::describe(&client, name, &region).await {
        Ok(info) => match info.route_warning() {
            Ok(None) => Check::pass(
                "eks cluster",
                format!(
                    "{name}: {}, endpoint access {}",
                    info.status,
                    info.access_label()
                ),
            ),
            Ok(Some(warning)) => Check::warn(
                "eks cluster",
                warning,
                "enable private endpoint access, or allow the NAT's address",
            ),
            Err(error) => Check::fail("eks cluster", error.to_string(), "see the message"),
        },
        Err(ClusterError::Api { error, .. }) => {
            let fix = super::denied::fix(error.kind(), "eks:DescribeCluster");
            Check::fail(
                "eks cluster",
                format!("DescribeCluster failed: {error}"),
                fix,
            )
        }
        Err(error) => Check::fail("eks cluster", error.to_string(), "see the message"),
    }
}

/// The kubeconfig context `eks connect` writes for `name`.
pub fn kubeconfig_context(name: &str) -> Check {
    let wanted = context::default_context(name);
    let connect = format!("run `ssm-forward eks connect {name}` (it writes the context)");
    let Ok(path) = context::kubeconfig_path(None) else {
        return Check::warn("kubeconfig", "no kubeconfig location (HOME unset)", connect);
    };
    let shown = path.display();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Check::warn("kubeconfig", format!("{shown} does not exist yet"), connect);
    };
    match Kubeconfig::parse(&text) {
        Ok(kubeconfig) if kubeconfig.context_names().contains(&wanted) => {
            let current = if kubeconfig.current_context() == Some(wanted.as_str()) {
                " (the current context)"
            } else {
                ""
            };
            Check::pass("kubeconfig", format!("{shown}: context {wanted}{current}"))
        }
        Ok(_) => Check::warn(
            "kubeconfig",
            format!("{shown}: no context {wanted}"),
            connect,
        ),
        Err(error) => Check::fail(
            "kubeconfig",
            format!("{shown}: {error}"),
            "fix the file (kubectl cannot read it either)",
        ),
    }
}
