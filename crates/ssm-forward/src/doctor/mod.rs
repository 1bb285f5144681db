//! `ssm-forward doctor`: walks the chain a forward needs and reports
//! one [`Check`] per link, each with its fix when it fails.
//!
//! In order: the region and where it came from, the IAM Identity Center
//! session (SSO profiles), the credentials and their provider, the
//! caller ([`identity`]); the SSM API; the target, online, its agent
//! and what it supports ([`ssm`]); the data-channel host ([`network`]);
//! with `--probe`, a real session to the destination ([`probe`]); for
//! an EKS cluster, its endpoint access and the kubeconfig context
//! ([`eks`]). A link that everything after it needs (a region, the
//! credentials, the SSM API) stops the walk when it fails. Missing IAM
//! permissions are named from AccessDenied messages ([`denied`]).

pub mod denied;
pub mod eks;
pub mod identity;
pub mod network;
pub mod probe;
pub mod report;
pub mod ssm;

use std::sync::Arc;

use aws_config::SdkConfig;
use ssm_client::{AwsOptions, AwsSessionApi, SessionApi};

use crate::targets::TargetSelector;
pub use report::{Check, Outcome};

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Profile, region, endpoint.
    pub aws: AwsOptions,
    /// The target (an EKS cluster is [`TargetSelector::EksCluster`]).
    pub target: Option<TargetSelector>,
    /// Host to reach from the target.
    pub remote_host: Option<String>,
    /// Port to reach (needed by `--probe`).
    pub remote_port: Option<u16>,
    /// Start a real session to the destination.
    pub probe: bool,
}

/// Runs every check that applies, in order.
pub async fn run(inputs: &Inputs) -> Vec<Check> {
    let mut checks = Vec::new();
    let (region, config) = identity::region(&inputs.aws).await;
    checks.push(region);
    let Some(config) = config else {
        return checks;
    };
    checks.extend(identity::sso_session(&inputs.aws).await);
    let credentials = identity::credentials(&config).await;
    let have_credentials = credentials.passed();
    checks.push(credentials);
    if !have_credentials {
        return checks;
    }
    checks.push(identity::caller(&config).await);
    let api = Arc::new(AwsSessionApi::with_options(&config, &inputs.aws));
    let reachable = ssm::api(api.client()).await;
    let api_works = reachable.passed();
    checks.push(reachable);
    if !api_works {
        return checks;
    }
    let instance = target_checks(inputs, &config, &api, &mut checks).await;
    let region = config.region().map(ToString::to_string).unwrap_or_default();
    let gateway = network::gateway_url(inputs.aws.endpoint_url.as_deref(), &region);
    checks.push(network::data_channel(&gateway).await);
    if let (true, Some(instance_id), Some(remote_port)) =
        (inputs.probe, instance, inputs.remote_port)
    {
        let destination = probe::Destination {
            instance_id,
            remote_host: inputs.remote_host.clone(),
            remote_port,
        };
        checks.extend(probe::run(api as Arc<dyn SessionApi>, &destination).await);
    } else if inputs.probe {
        checks.push(Check::fail(
            "probe",
            "not run: it needs a target that resolved and --remote-port",
            "give --target (or --eks-cluster) and --remote-port",
        ));
    }
    checks
}

/// The EKS and target checks; the instance id when one was found.
async fn target_checks(
    inputs: &Inputs,
    config: &SdkConfig,
    api: &AwsSessionApi,
    checks: &mut Vec<Check>,
) -> Option<String> {
    let selector = inputs.target.as_ref()?;
    if let TargetSelector::EksCluster(cluster) = selector {
        checks.push(eks::cluster(config, cluster).await);
        checks.push(eks::kubeconfig_context(cluster));
    }
    let (found, instance) =
        ssm::target(api.client(), selector, inputs.remote_host.as_deref()).await;
    checks.extend(found);
    instance
}
