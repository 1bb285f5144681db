//! The AWS side every command shares: SDK configurations and SSM
//! clients, loaded once per distinct set of options (profile, region,
//! endpoint) and refused, with what to do, when no region is configured.
//! An IAM Identity Center profile's session is checked first (and a
//! login offered on a terminal): [`crate::sign_in::preflight`].

use std::sync::Arc;

use aws_config::SdkConfig;
use ssm_client::{AwsOptions, AwsSessionApi};

use crate::errors::Fatal;
use crate::sign_in::preflight::Prompting;

/// One SDK configuration and SSM client per distinct set of AWS options.
#[derive(Debug, Default)]
pub struct AwsContext {
    loaded: Vec<Loaded>,
}

/// What was loaded for one set of options.
#[derive(Debug)]
struct Loaded {
    options: AwsOptions,
    config: SdkConfig,
    ssm: Arc<AwsSessionApi>,
}

impl AwsContext {
    /// The SDK configuration for `options` (for clients of other services).
    pub async fn sdk_config(&mut self, options: &AwsOptions) -> Result<SdkConfig, Fatal> {
        Ok(self.load(options).await?.config.clone())
    }

    /// The SSM client for `options`.
    pub async fn ssm(&mut self, options: &AwsOptions) -> Result<Arc<AwsSessionApi>, Fatal> {
        Ok(self.load(options).await?.ssm.clone())
    }

    /// Loads the SDK configuration for `options` once; a usage error
    /// when it has no region.
    async fn load(&mut self, options: &AwsOptions) -> Result<&Loaded, Fatal> {
        if let Some(index) = self.loaded.iter().position(|l| l.options == *options) {
            return Ok(&self.loaded[index]);
        }
        crate::sign_in::preflight::ensure_signed_in(options, Prompting::OnTerminal).await?;
        let config = ssm_client::load_sdk_config(options).await;
        if config.region().is_none() {
            return Err(no_region(options));
        }
        let ssm = Arc::new(AwsSessionApi::with_options(&config, options));
        self.loaded.push(Loaded {
            options: options.clone(),
            config,
            ssm,
        });
        Ok(self.loaded.last().expect("just pushed"))
    }
}

/// No region anywhere: say where to set one.
fn no_region(options: &AwsOptions) -> Fatal {
    let hint = match &options.profile {
        Some(profile) => format!(" (is profile {profile:?} defined in ~/.aws/config?)"),
        None => String::new(),
    };
    Fatal::usage(format!(
        "no AWS region: pass --region, set AWS_REGION, or set region in your profile{hint}"
    ))
}
