//! The device authorization flow: register a public client (reusing a
//! cached registration), start a device authorization, then poll
//! CreateToken on [`PollSchedule`]'s schedule until the user approves,
//! denies or lets the code expire; and refreshing a token. Every token
//! obtained is written to the cache before it is returned.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ssooidc::Client;
use aws_sdk_ssooidc::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssooidc::operation::create_token::{CreateTokenError, CreateTokenOutput};
use aws_types::SdkConfig;
use aws_types::region::Region;
use tracing::{debug, info};

use crate::SsoProfile;
use crate::cache::TokenCache;
use crate::error::LoginError;
use crate::poll::{NextPoll, PollAnswer, PollSchedule};
use crate::token::{CachedToken, Registration};

/// The OAuth grant type of the device flow.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The OAuth grant type of refreshing.
const REFRESH_GRANT: &str = "refresh_token";

/// A device authorization waiting for the user: show them
/// `verification_uri_complete` (or `verification_uri` and `user_code`).
#[derive(Clone)]
pub struct DeviceAuthorization {
    /// The code the user confirms in the browser.
    pub user_code: String,
    /// The page to open.
    pub verification_uri: String,
    /// The page with the code filled in, when the service gives one.
    pub verification_uri_complete: Option<String>,
    /// How long the code stays valid.
    pub expires_in: Duration,
    device_code: String,
    interval: Option<Duration>,
    registration: Registration,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    /// The best page to send the user to.
    pub fn url(&self) -> &str {
        self.verification_uri_complete
            .as_deref()
            .unwrap_or(&self.verification_uri)
    }
}

/// What happened while waiting, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginProgress {
    /// A poll found the request not approved yet.
    Pending {
        /// Polls so far.
        polls: u32,
        /// Time left before the code expires.
        remaining: Duration,
    },
    /// The service asked us to poll less often.
    SlowedDown {
        /// The new interval.
        interval: Duration,
    },
}

/// One sign-in to one IAM Identity Center instance.
#[derive(Debug, Clone)]
pub struct DeviceLogin {
    oidc: Client,
    cache: TokenCache,
    profile: SsoProfile,
}

impl DeviceLogin {
    /// A login for `profile` that keeps its tokens in `cache`. The SSO
    /// OIDC client takes everything but the region from `sdk_config`
    /// (HTTP client, `AWS_ENDPOINT_URL_SSO_OIDC` and `services` endpoint
    /// overrides); the region is `sso_region`.
    pub fn new(sdk_config: &SdkConfig, profile: SsoProfile, cache: TokenCache) -> Self {
        let config = aws_sdk_ssooidc::config::Builder::from(sdk_config)
            .region(Region::new(profile.region.clone()))
            .build();
        Self {
            oidc: Client::from_conf(config),
            cache,
            profile,
        }
    }

    /// What this login signs in to.
    pub fn profile(&self) -> &SsoProfile {
        &self.profile
    }

    /// The cache it writes to.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    /// Registers (or reuses a cached registration) and starts a device
    /// authorization for the user to approve.
    pub async fn authorize(&self) -> Result<DeviceAuthorization, LoginError> {
        let scopes = self.profile.registration_scopes();
        let now = SystemTime::now();
        if let Some(cached) = self
            .cache
            .read_registration(&self.profile, &scopes)
            .filter(|registration| registration.usable(now))
        {
            match self.start(cached).await {
                Err(LoginError::Refused { code, .. }) if code == "InvalidClientException" => {
                    debug!("the cached client registration was refused; registering again");
                }
                started => return started,
            }
        }
        let registration = self.register(&scopes).await?;
        self.start(registration).await
    }

    /// Polls until the user approves (the token is then cached and
    /// returned), denies, or lets the code expire; `on_progress` hears
    /// of every pending poll and slow-down.
    pub async fn wait_for_approval(
        &self,
        authorization: &DeviceAuthorization,
        on_progress: &mut (dyn FnMut(LoginProgress) + Send),
    ) -> Result<CachedToken, LoginError> {
        let started = tokio::time::Instant::now().into_std();
        let mut schedule =
            PollSchedule::new(started, authorization.interval, authorization.expires_in);
        let mut next = schedule.first(started);
        loop {
            let NextPoll::At(when) = next else {
                return Err(LoginError::CodeExpired);
            };
            tokio::time::sleep_until(tokio::time::Instant::from_std(when)).await;
            let answer = match self.poll_once(authorization).await? {
                Polled::Approved(output) => return self.save(authorization, &output),
                Polled::Waiting(answer) => answer,
            };
            let now = tokio::time::Instant::now().into_std();
            next = schedule.after(answer, now);
            on_progress(match answer {
                PollAnswer::Pending => LoginProgress::Pending {
                    polls: schedule.polls(),
                    remaining: schedule.remaining(now),
                },
                PollAnswer::SlowDown => LoginProgress::SlowedDown {
                    interval: schedule.interval(),
                },
            });
        }
    }

    /// Renews `token` with its refresh token, caches and returns the
    /// new one.
    pub async fn refresh(&self, token: &CachedToken) -> Result<CachedToken, LoginError> {
        let (Some(client_id), Some(client_secret), Some(refresh_token)) =
            (&token.client_id, &token.client_secret, &token.refresh_token)
        else {
            return Err(LoginError::RefreshRefused(
                "the cached token has no refresh token".into(),
            ));
        };
        let output = self
            .oidc
            .create_token()
            .client_id(client_id)
            .client_secret(client_secret)
            .grant_type(REFRESH_GRANT)
            .refresh_token(refresh_token)
            .send()
            .await
            .map_err(refresh_error)?;
        let mut renewed = token.clone();
        renewed.access_token = output.access_token().unwrap_or_default().to_owned();
        renewed.expires_at = expiry(&output);
        if let Some(rotated) = output.refresh_token() {
            renewed.refresh_token = Some(rotated.to_owned());
        }
        self.cache.write_token(&self.profile, &renewed)?;
        info!(until = %crate::format_utc(renewed.expires_at), "SSO token refreshed");
        Ok(renewed)
    }

    async fn register(&self, scopes: &[String]) -> Result<Registration, LoginError> {
        let output = self
            .oidc
            .register_client()
            .client_name(client_name(&self.profile))
            .client_type("public")
            .set_scopes(Some(scopes.to_vec()))
            .send()
            .await
            .map_err(|error| classify("RegisterClient", error))?;
        let expires_at = u64::try_from(output.client_secret_expires_at())
            .map_or(UNIX_EPOCH, |secs| UNIX_EPOCH + Duration::from_secs(secs));
        let registration = Registration {
            client_id: output.client_id().unwrap_or_default().to_owned(),
            client_secret: output.client_secret().unwrap_or_default().to_owned(),
            expires_at,
            scopes: Some(scopes.to_vec()),
        };
        if let Err(error) = self
            .cache
            .write_registration(&self.profile, scopes, &registration)
        {
            // Only a saving: the next login registers again.
            debug!(%error, "could not cache the client registration");
        }
        Ok(registration)
    }

    async fn start(&self, registration: Registration) -> Result<DeviceAuthorization, LoginError> {
        let output = self
            .oidc
            .start_device_authorization()
            .client_id(&registration.client_id)
            .client_secret(&registration.client_secret)
            .start_url(&self.profile.start_url)
            .send()
            .await
            .map_err(|error| classify("StartDeviceAuthorization", error))?;
        let interval = u64::try_from(output.interval())
            .ok()
            .map(Duration::from_secs);
        Ok(DeviceAuthorization {
            user_code: output.user_code().unwrap_or_default().to_owned(),
            verification_uri: output.verification_uri().unwrap_or_default().to_owned(),
            verification_uri_complete: output.verification_uri_complete().map(str::to_owned),
            expires_in: Duration::from_secs(u64::try_from(output.expires_in()).unwrap_or(0)),
            device_code: output.device_code().unwrap_or_default().to_owned(),
            interval,
            registration,
        })
    }

    async fn poll_once(&self, authorization: &DeviceAuthorization) -> Result<Polled, LoginError> {
        let registration = &authorization.registration;
        let result = self
            .oidc
            .create_token()
            .client_id(&registration.client_id)
            .client_secret(&registration.client_secret)
            .grant_type(DEVICE_GRANT)
            .device_code(&authorization.device_code)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Polled::Approved(output)),
            Err(error) => match error.as_service_error() {
                Some(e) if e.is_authorization_pending_exception() => {
                    Ok(Polled::Waiting(PollAnswer::Pending))
                }
                Some(e) if e.is_slow_down_exception() => Ok(Polled::Waiting(PollAnswer::SlowDown)),
                Some(e) if e.is_access_denied_exception() => Err(LoginError::Denied),
                Some(e) if e.is_expired_token_exception() => Err(LoginError::CodeExpired),
                _ => Err(classify("CreateToken", error)),
            },
        }
    }

    fn save(
        &self,
        authorization: &DeviceAuthorization,
        output: &CreateTokenOutput,
    ) -> Result<CachedToken, LoginError> {
        let registration = &authorization.registration;
        let token = CachedToken {
            start_url: self.profile.start_url.clone(),
            region: self.profile.region.clone(),
            access_token: output.access_token().unwrap_or_default().to_owned(),
            expires_at: expiry(output),
            client_id: Some(registration.client_id.clone()),
            client_secret: Some(registration.client_secret.clone()),
            registration_expires_at: Some(registration.expires_at),
            refresh_token: output.refresh_token().map(str::to_owned),
        };
        let path = self.cache.write_token(&self.profile, &token)?;
        debug!(path = %path.display(), "SSO token cached");
        Ok(token)
    }
}

/// What one CreateToken poll found.
enum Polled {
    Approved(CreateTokenOutput),
    Waiting(PollAnswer),
}

fn expiry(output: &CreateTokenOutput) -> SystemTime {
    let seconds = u64::try_from(output.expires_in()).unwrap_or(0);
    SystemTime::now() + Duration::from_secs(seconds)
}

/// The client name shown to administrators.
fn client_name(profile: &SsoProfile) -> String {
    match &profile.session_name {
        Some(session) => format!("ssm-forward-{session}"),
        None => "ssm-forward".to_owned(),
    }
}

fn refresh_error(error: SdkError<CreateTokenError>) -> LoginError {
    match error.as_service_error() {
        Some(service) => LoginError::RefreshRefused(service.code().unwrap_or("refused").to_owned()),
        None => classify("CreateToken", error),
    }
}

/// A refusal (with the service's code and words) or a network failure.
pub(crate) fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> LoginError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error.as_service_error() {
        Some(service) => LoginError::Refused {
            operation,
            code: service.code().unwrap_or("Unknown").to_owned(),
            message: service.message().unwrap_or_default().to_owned(),
        },
        None => LoginError::Unreachable {
            operation,
            detail: DisplayErrorContext(&error).to_string(),
        },
    }
}
