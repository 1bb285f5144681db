//! `ssm-forward eks token --cluster NAME`: the exec credential plugin
//! kubectl runs for every context `eks connect` writes. Prints an
//! `ExecCredential` (apiVersion `client.authentication.k8s.io/v1beta1`)
//! whose token is a presigned STS `GetCallerIdentity` URL, made locally
//! from the credentials chain (SSO profiles included) with no network
//! call. It never prompts: kubectl runs it without a terminal, so a
//! missing or expired sign-in is an error on stderr that says what to run.

use std::time::SystemTime;

use ssm_client::AwsOptions;
use ssm_eks_auth::TokenError;

use crate::errors::{ExitStatus, Fatal};
use crate::sign_in::preflight::Prompting;

/// `ssm-forward eks token`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The EKS cluster's name.
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
    /// The cluster's region (default: the profile's or AWS_REGION).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (SSO profiles included).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Prints the ExecCredential JSON on stdout.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let options = AwsOptions {
        profile: args.profile.clone(),
        region: args.region.clone(),
        endpoint_url: None,
    };
    // Renews a stale SSO token; never prompts (kubectl is waiting).
    crate::sign_in::preflight::ensure_signed_in(&options, Prompting::Never).await?;
    let config = ssm_client::load_sdk_config(&options).await;
    let Some(region) = config.region().map(ToString::to_string) else {
        return Err(Fatal::usage(
            "no AWS region for the token: pass --region (the cluster's region)",
        )
        .into());
    };
    let credential = ssm_eks_auth::exec_credential_from_config(
        &config,
        &args.cluster,
        &region,
        SystemTime::now(),
    )
    .await
    .map_err(|error| failure(&error, options.effective_profile().as_deref()))?;
    println!("{}", credential.to_json());
    Ok(())
}

/// A token failure phrased for the person reading kubectl's error.
fn failure(error: &TokenError, profile: Option<&str>) -> Fatal {
    let profile_flag = profile.map_or_else(String::new, |p| format!(" --profile {p}"));
    match error {
        TokenError::SsoExpired(_) => Fatal::new(
            ExitStatus::Access,
            format!(
                "the SSO session{} has expired or was never started: run `ssm-forward login{profile_flag}`, \
                 then retry the kubectl command",
                profile.map_or_else(String::new, |p| format!(" of profile {p:?}"))
            ),
        ),
        TokenError::NoCredentials(_) | TokenError::NoCredentialsProvider => Fatal::new(
            ExitStatus::Access,
            format!(
                "no AWS credentials for the EKS token{}: {error}",
                profile.map_or_else(String::new, |p| format!(" (profile {p:?})"))
            ),
        ),
        TokenError::Presign(_) => Fatal::usage(error.to_string()),
        other => Fatal::new(
            ExitStatus::Access,
            format!(
                "could not load AWS credentials for the EKS token: {}",
                chain(other)
            ),
        ),
    }
}

/// An error and its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
