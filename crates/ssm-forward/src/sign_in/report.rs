//! The login's status lines (text, or JSON with `--json`): the code to
//! confirm and where, and the result with its expiry in local time.

use std::path::Path;
use std::time::SystemTime;

use ssm_sso::{CachedToken, DeviceAuthorization, RoleCheck, SsoProfile};
use tracing::info;

use crate::output::TARGET;

/// "open URL and confirm code ABCD-EFGH".
pub fn code(profile: &SsoProfile, authorization: &DeviceAuthorization) {
    let url = authorization.url();
    let code = &authorization.user_code;
    let minutes = authorization.expires_in.as_secs().div_ceil(60);
    info!(
        target: TARGET, event = "login_code", url, code = %code, start_url = %profile.start_url,
        expires_in_s = authorization.expires_in.as_secs(),
        "sign in to {}: open {url} and confirm the code {code} (valid for {minutes} min)",
        profile.start_url
    );
}

/// "signed in …, until 19:04 CET".
pub fn signed_in(
    profile: &SsoProfile,
    token: &CachedToken,
    role: Option<&RoleCheck>,
    cache: &Path,
) {
    let until = local_time(token.expires_at);
    let expires_at = ssm_sso::format_utc(token.expires_at);
    let who = profile.describe();
    match role {
        Some(role) => info!(
            target: TARGET, event = "signed_in", profile = %who, account = %role.account_id,
            role = %role.role_name, expires_at = %expires_at, cache = %cache.display(),
            "signed in ({who}): account {}, role {}; the SSO session lasts until {until}",
            role.account_id, role.role_name
        ),
        None => info!(
            target: TARGET, event = "signed_in", profile = %who, expires_at = %expires_at,
            cache = %cache.display(),
            "signed in ({who}); the SSO session lasts until {until}"
        ),
    }
}

/// `at` in the local time zone, e.g. "2026-12-03 19:04 CET".
pub fn local_time(at: SystemTime) -> String {
    let Ok(timestamp) = jiff::Timestamp::try_from(at) else {
        return ssm_sso::format_utc(at);
    };
    timestamp
        .to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn local_time_has_minutes_and_a_zone() {
        let shown = local_time(UNIX_EPOCH + Duration::from_secs(1_796_292_245));
        // The zone depends on the machine; the shape does not.
        assert!(shown.starts_with("2026-12-0"), "{shown}");
        assert_eq!(shown.matches(':').count(), 1, "{shown}");
        assert!(shown.len() > "2026-12-03 10:04".len(), "{shown}");
    }
}
