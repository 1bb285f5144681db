//! An SSO lab for the login tests: ssm-sim with IAM Identity Center and
//! a scratch HOME whose AWS config has an sso-session profile (`dev`,
//! session `corp`), a second session (`other`, session `second`) and a
//! legacy SSO profile (`legacy`).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use ssm_sim::{SimConfig, Simulator, SsoConfig};
use tokio::process::Command;

use super::{BASTION, Child, Scratch};

pub const ACCOUNT: &str = "123456789012";
pub const ROLE: &str = "ssm-forward-user";
/// How long a whole login may take (interval 1 s, approval after 2 polls).
pub const LOGIN: Duration = Duration::from_secs(30);

/// ssm-sim with IAM Identity Center, and a HOME whose AWS config has
/// an sso-session profile (`dev`), a legacy SSO profile (`legacy`) and a
/// second session (`other`).
pub struct Lab {
    pub sim: Simulator,
    pub home: Scratch,
}

impl Lab {
    pub async fn start(sso: SsoConfig) -> Self {
        let config = SimConfig {
            sso,
            ..SimConfig::default()
        };
        let sim = Simulator::start(config).await.expect("simulator starts");
        let home = Scratch::new();
        let start_url = sim.sso().config().start_url.clone();
        std::fs::write(home.join("aws-config"), aws_config(&start_url)).unwrap();
        Self { sim, home }
    }

    /// The environment of every program in the lab: no credentials but
    /// the SSO profiles, and the SSO endpoints pointed at the simulator.
    pub fn env(&self) -> Vec<(String, std::ffi::OsString)> {
        let path = |name: &str| self.home.join(name).into_os_string();
        vec![
            ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
            ("HOME".into(), self.home.path().as_os_str().to_owned()),
            ("XDG_CONFIG_HOME".into(), path("xdg")),
            ("XDG_STATE_HOME".into(), path("state")),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), path("aws-config")),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), path("no-credentials")),
            (
                "AWS_ENDPOINT_URL_SSO_OIDC".into(),
                self.sim.endpoint_url().into(),
            ),
            (
                "AWS_ENDPOINT_URL_SSO".into(),
                self.sim.endpoint_url().into(),
            ),
        ]
    }

    /// `program` with only the lab's environment.
    pub fn program(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env_clear().envs(self.env());
        command
    }

    /// `ssm-forward` with only the lab's environment.
    pub fn command(&self) -> Command {
        self.program(env!("CARGO_BIN_EXE_ssm-forward"))
    }

    /// `ssm-forward login ARGS… --no-browser`, run to its end.
    pub async fn login(&self, args: &[&str]) -> (i32, String) {
        let mut command = self.command();
        command.arg("login").args(args).arg("--no-browser");
        let mut child = Child::spawn(&mut command);
        let status = child.exit(LOGIN).await;
        (status.code().unwrap_or(-1), child.stderr())
    }

    /// A forward of the bastion's echo port through profile `dev`.
    pub fn forward(&self, ready: &std::path::Path) -> Command {
        let mut command = self.command();
        command
            .args(["--profile", "dev", "--endpoint-url"])
            .arg(self.sim.endpoint_url())
            .args(["--target", BASTION, "--remote-host", "127.0.0.1"])
            .args(["--remote-port", &self.sim.echo_addr().port().to_string()])
            .args(["--local-port", "0", "--ready-file"])
            .arg(ready);
        command
    }

    pub fn cache_file(&self, identifier: &str) -> PathBuf {
        self.home
            .path()
            .join(".aws/sso/cache")
            .join(format!("{}.json", hex::encode(Sha1::digest(identifier))))
    }

    pub fn cached(&self, identifier: &str) -> Value {
        let text = std::fs::read(self.cache_file(identifier)).expect("token cached");
        serde_json::from_slice(&text).unwrap()
    }

    /// Writes a token for `identifier` that expired an hour ago, with a
    /// refresh token and registration when `refreshable`.
    pub fn write_expired_token(&self, identifier: &str, refreshable: bool) {
        let start_url = self.sim.sso().config().start_url.clone();
        let mut token = json!({
            "startUrl": start_url,
            "region": "us-east-1",
            "accessToken": "expired-token",
            "expiresAt": "2026-01-01T00:00:00Z",
        });
        if refreshable {
            token["clientId"] = json!("unknown-client");
            token["clientSecret"] = json!("unknown-secret");
            token["registrationExpiresAt"] = json!("2099-01-01T00:00:00Z");
            token["refreshToken"] = json!("unknown-refresh-token");
        }
        let path = self.cache_file(identifier);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, token.to_string()).unwrap();
    }
}

fn aws_config(start_url: &str) -> String {
    format!(
        "[profile dev]
sso_session = corp
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}
region = us-east-1

[sso-session corp]
sso_start_url = {start_url}
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile other]
sso_session = second
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}
region = us-east-1

[sso-session second]
sso_start_url = {start_url}
sso_region = us-east-1

[profile legacy]
sso_start_url = {start_url}
sso_region = us-east-1
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}
region = us-east-1
"
    )
}

pub fn seconds_from_now(text: &str) -> i64 {
    let at: jiff::Timestamp = text.parse().expect("an RFC 3339 time");
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    at.as_second() - now
}
