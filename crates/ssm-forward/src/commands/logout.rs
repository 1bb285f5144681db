//! `ssm-forward logout`: ends one SSO session: signs its token out at
//! the portal and deletes its cache file, leaving other sessions' tokens
//! alone.

use clap::Args as ClapArgs;
use tracing::{debug, info};

use crate::output::TARGET;
use crate::sign_in;

/// `ssm-forward logout [--profile NAME] [--sso-session NAME]`.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct Args {
    /// The profile whose SSO session to end.
    #[arg(long, value_name = "NAME", conflicts_with = "sso_session")]
    pub profile: Option<String>,
    /// The [sso-session NAME] to end.
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<String>,
}

/// Runs the logout.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let selector = sign_in::selector(args.profile.as_deref(), args.sso_session.as_deref());
    let profile = sign_in::find(&selector).await?;
    let cache = sign_in::cache()?;
    let who = profile.describe();
    let token = cache.read_token(&profile).ok().flatten();
    if let Some(token) = &token {
        let config = sign_in::sdk_config(&token.region).await;
        // The local token goes either way; the portal may be unreachable.
        if let Err(error) = ssm_sso::logout_remote(&config, token).await {
            debug!(%error, "portal logout failed");
        }
    }
    let removed = cache.remove_token(&profile).map_err(sign_in::fatal_cache)?;
    if removed {
        info!(target: TARGET, event = "signed_out", profile = %who, "signed out ({who})");
    } else {
        info!(target: TARGET, event = "signed_out", profile = %who, "not signed in ({who}): nothing to do");
    }
    Ok(())
}
