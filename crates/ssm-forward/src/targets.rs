//! Targets for every command: [`discovery`] finds the instance a
//! selector names (id, Name tag, tag, EKS cluster); [`resolve`] runs it
//! and turns its failures into [`Fatal`] errors with the right exit status
//! (3 for a target that cannot be used, 4 for access, 1 otherwise), and
//! [`Rediscover`] runs it again when a forward's target stops taking
//! sessions.

pub mod discovery;

use std::future::Future;
use std::pin::Pin;

use ssm_client::AwsSessionApi;

use crate::errors::{self, ExitStatus, Fatal};
use crate::forwarding::supervisor::Retarget;
use crate::output;

pub use discovery::{Resolved, TargetSelector};

/// Resolves one selector, saying which instance it chose.
pub async fn resolve(api: &AwsSessionApi, selector: &TargetSelector) -> Result<Resolved, Fatal> {
    let resolved =
        discovery::resolve(api.client(), selector)
            .await
            .map_err(|error| match error {
                discovery::DiscoveryError::Api { selector, source } => {
                    let message = format!(
                        "could not look up {selector}: {}",
                        errors::explain_lookup(&source)
                    );
                    let status = ExitStatus::from(errors::kind(&ssm_client::Error::Api(source)));
                    Fatal::new(status, message)
                }
                other => Fatal::new(ExitStatus::Target, other.to_string()),
            })?;
    if !matches!(selector, TargetSelector::Id(_)) {
        output::target_chosen(selector, &resolved);
    }
    Ok(resolved)
}

/// How many online instances `selector` matches (0 when none is
/// online or none exists); fails only when the lookup itself fails.
pub async fn online_count(api: &AwsSessionApi, selector: &TargetSelector) -> Result<usize, Fatal> {
    match discovery::resolve(api.client(), selector).await {
        Ok(resolved) => Ok(resolved.matches),
        Err(
            discovery::DiscoveryError::NotFound { .. } | discovery::DiscoveryError::Offline { .. },
        ) => Ok(0),
        Err(discovery::DiscoveryError::Api { selector, source }) => {
            let message = format!(
                "could not look up {selector}: {}",
                errors::explain_lookup(&source)
            );
            let status = ExitStatus::from(errors::kind(&ssm_client::Error::Api(source)));
            Err(Fatal::new(status, message))
        }
    }
}

/// Re-runs target discovery for a forward whose target was chosen by
/// name, tag or EKS cluster.
#[derive(Debug)]
pub struct Rediscover {
    /// The SSM client to ask.
    pub client: aws_sdk_ssm::Client,
    /// What the user asked for.
    pub selector: TargetSelector,
}

impl Retarget for Rediscover {
    fn resolve(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let resolved = discovery::resolve(&self.client, &self.selector)
                .await
                .map_err(|error| error.to_string())?;
            output::target_chosen(&self.selector, &resolved);
            Ok(resolved.instance_id)
        })
    }
}
