//! The SSM side: the API answers, and the target resolves, is online,
//! and runs an agent that can forward to a remote host (the document
//! AWS-StartPortForwardingSessionToRemoteHost needs 3.1.1374.0 or later)
//! and multiplex connections with smux (later than 3.0.196.0).

use std::cmp::Ordering;

use aws_sdk_ssm::types::{InstanceInformation, InstanceInformationStringFilter};
use ssm_client::ApiErrorKind;
use ssm_proto::version::agent_compare;

use super::denied;
use super::report::Check;
use crate::targets::discovery::{self, DiscoveryError, TargetSelector};

/// The oldest agent that forwards to a remote host.
pub const REMOTE_HOST_AGENT: &str = "3.1.1374.0";
/// The newest agent without smux (later ones multiplex).
pub const LAST_AGENT_WITHOUT_SMUX: &str = "3.0.196.0";

/// The API check: DescribeInstanceInformation answers.
pub async fn api(client: &aws_sdk_ssm::Client) -> Check {
    let answer = client
        .describe_instance_information()
        .max_results(5)
        .send()
        .await;
    match answer {
        Ok(_) => Check::pass(
            "ssm api",
            "reachable (DescribeInstanceInformation answered)",
        ),
        Err(error) => api_failure(
            "ssm api",
            ssm_client::classify_sdk_error(error),
            "ssm:DescribeInstanceInformation",
        ),
    }
}

/// A failed call of `action`, with what to do.
fn api_failure(check: &str, error: ssm_client::ApiError, action: &str) -> Check {
    let fix = match error.kind() {
        ApiErrorKind::AccessDenied { .. } => denied::fix(error.kind(), action),
        ApiErrorKind::Network => {
            "check the network path to SSM (HTTPS_PROXY, a VPC endpoint, --endpoint-url)".into()
        }
        ApiErrorKind::NoCredentials
        | ApiErrorKind::SsoExpired { .. }
        | ApiErrorKind::CredentialsExpired
        | ApiErrorKind::InvalidCredentials => "fix the credentials (see above)".into(),
        _ => "retry later; if it persists, check the region and endpoint".into(),
    };
    Check::fail(check, format!("{action} failed: {error}"), fix)
}

/// The target checks, and the instance id when one was found.
pub async fn target(
    client: &aws_sdk_ssm::Client,
    selector: &TargetSelector,
    remote_host: Option<&str>,
) -> (Vec<Check>, Option<String>) {
    let (resolved, mut checks) = match resolve(client, selector).await {
        Ok(found) => found,
        Err(check) => return (vec![check], None),
    };
    let instance = match describe(client, &resolved).await {
        Ok(Some(instance)) => instance,
        Ok(None) => {
            checks.push(Check::fail(
                "target",
                format!("{resolved} is not a managed instance in this region"),
                "check the id and the region; the instance needs the SSM agent and an IAM role \
                 with AmazonSSMManagedInstanceCore",
            ));
            return (checks, None);
        }
        Err(check) => {
            checks.push(check);
            return (checks, None);
        }
    };
    checks.push(online(&resolved, &instance));
    checks.extend(agent(&instance, remote_host));
    (checks, Some(resolved))
}

/// The instance `selector` names: an id as is, else discovery's choice.
async fn resolve(
    client: &aws_sdk_ssm::Client,
    selector: &TargetSelector,
) -> Result<(String, Vec<Check>), Check> {
    if let TargetSelector::Id(id) = selector {
        return Ok((id.clone(), Vec::new()));
    }
    match discovery::resolve(client, selector).await {
        Ok(resolved) => {
            let detail = format!(
                "{selector} → {} ({} online match{})",
                resolved.instance_id,
                resolved.matches,
                if resolved.matches == 1 { "" } else { "es" }
            );
            Ok((resolved.instance_id, vec![Check::pass("target", detail)]))
        }
        Err(DiscoveryError::Api { source, .. }) => Err(api_failure(
            "target",
            source,
            "ssm:DescribeInstanceInformation",
        )),
        Err(error) => Err(Check::fail(
            "target",
            error.to_string(),
            "start an instance that matches, or check the selector and the region",
        )),
    }
}

/// The instance's SSM record (`None`: SSM does not know it).
async fn describe(
    client: &aws_sdk_ssm::Client,
    instance_id: &str,
) -> Result<Option<InstanceInformation>, Check> {
    let filter = InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .values(instance_id)
        .build()
        .map_err(|error| Check::fail("target", error.to_string(), "report this bug"))?;
    client
        .describe_instance_information()
        .filters(filter)
        .send()
        .await
        .map(|answer| answer.instance_information_list().first().cloned())
        .map_err(|error| {
            api_failure(
                "target",
                ssm_client::classify_sdk_error(error),
                "ssm:DescribeInstanceInformation",
            )
        })
}

fn online(instance_id: &str, instance: &InstanceInformation) -> Check {
    let ping = instance
        .ping_status()
        .map_or("unknown", |status| status.as_str());
    if ping == "Online" {
        Check::pass("target online", format!("{instance_id} is Online"))
    } else {
        Check::fail(
            "target online",
            format!("{instance_id} is {ping}: its agent does not talk to SSM"),
            "start the instance, or check its SSM agent and its network path to SSM \
             (ssm, ssmmessages and ec2messages endpoints)",
        )
    }
}

/// The agent's version and what it can do.
fn agent(instance: &InstanceInformation, remote_host: Option<&str>) -> Vec<Check> {
    let version = instance.agent_version().unwrap_or_default();
    let update = "update the SSM agent on the instance (AWS-UpdateSSMAgent)";
    let remote = if agent_compare(version, REMOTE_HOST_AGENT) != Ordering::Less {
        Check::pass(
            "remote host",
            format!("agent {version} forwards to remote hosts"),
        )
    } else {
        let detail = format!(
            "agent {version} is older than {REMOTE_HOST_AGENT}: \
             AWS-StartPortForwardingSessionToRemoteHost will fail"
        );
        match remote_host {
            Some(_) => Check::fail("remote host", detail, update),
            None => Check::warn("remote host", detail, update),
        }
    };
    let smux = if agent_compare(version, LAST_AGENT_WITHOUT_SMUX) == Ordering::Greater {
        Check::pass("smux", "many connections per session")
    } else {
        Check::warn(
            "smux",
            format!("agent {version} has no smux: one connection at a time per session"),
            update,
        )
    };
    vec![
        Check::pass("agent", format!("version {version}")),
        remote,
        smux,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(version: &str) -> InstanceInformation {
        InstanceInformation::builder()
            .agent_version(version)
            .build()
    }

    #[test]
    fn old_agents_cannot_reach_remote_hosts_nor_multiplex() {
        let old = agent(&instance("3.0.161.0"), Some("db.internal"));
        assert_eq!(old[1].outcome, super::super::report::Outcome::Fail);
        assert_eq!(old[2].outcome, super::super::report::Outcome::Warn);
        let to_target = agent(&instance("3.0.161.0"), None);
        assert!(to_target[1].passed(), "a warning without --remote-host");
        let current = agent(&instance("3.3.987.0"), Some("db.internal"));
        assert!(
            current.iter().all(|check| check.fix.is_none()),
            "{current:?}"
        );
        let edge = agent(&instance("3.1.1374.0"), Some("db"));
        assert!(edge[1].fix.is_none());
    }
}
