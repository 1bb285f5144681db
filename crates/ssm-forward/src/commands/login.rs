//! `ssm-forward login`: signs in with IAM Identity Center through the
//! device flow and caches the token where the AWS CLI and the SDKs look
//! for it (`~/.aws/sso/cache`), so both find the session.

use clap::Args as ClapArgs;

use crate::sign_in::{self, LoginStyle};

/// `ssm-forward login [--profile NAME] [--sso-session NAME] [--no-browser]`.
#[derive(Debug, Clone, Default, ClapArgs)]
#[command(after_help = "\
The profile needs sso_session (with an [sso-session NAME] section holding sso_start_url and
sso_region) or, in the legacy form, sso_start_url and sso_region. Without --profile and
--sso-session: AWS_PROFILE, else the default profile. Tokens are shared with the AWS CLI.")]
pub struct Args {
    /// The profile to sign in for (its sso_session or legacy SSO keys).
    #[arg(long, value_name = "NAME", conflicts_with = "sso_session")]
    pub profile: Option<String>,
    /// An [sso-session NAME] section to sign in to, without a profile.
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<String>,
    /// Print the URL to open instead of starting a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// Runs the login.
pub async fn run(args: Args, json: bool) -> anyhow::Result<()> {
    let selector = sign_in::selector(args.profile.as_deref(), args.sso_session.as_deref());
    let profile = sign_in::find(&selector).await?;
    let style = LoginStyle {
        no_browser: args.no_browser,
        json,
    };
    sign_in::login(profile, style).await?;
    Ok(())
}
