//! SSO OIDC (`aws-sdk-ssooidc`, the `oidc.REGION.amazonaws.com` service):
//! RegisterClient (`POST /client/register`), StartDeviceAuthorization
//! (`POST /device_authorization`) and CreateToken (`POST /token`) with the
//! device code and refresh token grants, in REST-JSON.
//!
//! A device authorization is decided by the user on the approval page
//! ([`super::page`]), by a hook ([`Sso::approve`], [`Sso::deny`]), or
//! automatically after `approve_after_polls` pending answers.

use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::post;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::OidcError;
use super::state::{
    AccessToken, Authorization, Client, Decision, RefreshToken, Registry, Sso, TOKEN_ALPHABET,
    epoch_secs, new_user_code, random_string,
};
use crate::service::Service;

/// The device code grant of RFC 8628.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The refresh token grant.
pub const REFRESH_TOKEN_GRANT: &str = "refresh_token";
/// Path of the approval page, under the simulator's endpoint URL.
pub const VERIFICATION_PATH: &str = "/sso/device";

/// The SSO OIDC routes, to merge into the API router.
pub(super) fn routes() -> Router<Service> {
    Router::new()
        .route("/client/register", post(register_client))
        .route("/device_authorization", post(start_device_authorization))
        .route("/token", post(create_token))
}

/// RegisterClient input (the members the simulator reads).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RegisterClientInput {
    client_name: Option<String>,
    client_type: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// RegisterClient output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RegisterClientOutput {
    client_id: String,
    client_secret: String,
    client_id_issued_at: i64,
    client_secret_expires_at: i64,
}

/// StartDeviceAuthorization input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartDeviceAuthorizationInput {
    client_id: Option<String>,
    client_secret: Option<String>,
    start_url: Option<String>,
}

/// StartDeviceAuthorization output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartDeviceAuthorizationOutput {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: u64,
    interval: u64,
}

/// CreateToken input (the members the simulator reads).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateTokenInput {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    device_code: Option<String>,
    refresh_token: Option<String>,
}

/// CreateToken output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateTokenOutput {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

async fn register_client(State(service): State<Service>, body: Bytes) -> Response {
    let sso = service.sso();
    super::respond(
        "RegisterClient",
        decode(&body).and_then(|input| sso.register_client(input, SystemTime::now())),
    )
}

async fn start_device_authorization(
    State(service): State<Service>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sso = service.sso();
    let base_url = base_url(&headers);
    super::respond(
        "StartDeviceAuthorization",
        decode(&body)
            .and_then(|input| sso.start_device_authorization(input, &base_url, SystemTime::now())),
    )
}

async fn create_token(
    State(service): State<Service>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let sso = service.sso();
    if query.is_some_and(|query| query.contains("aws_iam")) {
        return super::respond::<CreateTokenOutput, _>(
            "CreateTokenWithIAM",
            Err(OidcError::InvalidRequest(
                "CreateTokenWithIAM is not supported by this simulator.".into(),
            )),
        );
    }
    super::respond(
        "CreateToken",
        decode(&body).and_then(|input| sso.create_token(input, SystemTime::now(), Instant::now())),
    )
}

/// The input shape from a JSON body (an empty body is an empty input).
fn decode<I: DeserializeOwned + Default>(body: &[u8]) -> Result<I, OidcError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(I::default());
    }
    serde_json::from_slice(body).map_err(|error| OidcError::InvalidRequest(error.to_string()))
}

/// `http://HOST` of the request, where the approval page is served too.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| !host.is_empty())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn required(value: Option<String>, member: &str) -> Result<String, OidcError> {
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| OidcError::InvalidRequest(format!("{member} is required.")))
}

impl Sso {
    /// RegisterClient: a public client, valid for `registration_ttl`.
    pub(super) fn register_client(
        &self,
        input: RegisterClientInput,
        now: SystemTime,
    ) -> Result<RegisterClientOutput, OidcError> {
        let mut registry = self.lock();
        registry.stats.register_client += 1;
        let name = required(input.client_name, "clientName")?;
        let client_type = required(input.client_type, "clientType")?;
        if client_type != "public" {
            return Err(OidcError::InvalidClientMetadata(format!(
                "Invalid client type: {client_type}. Only public clients are supported."
            )));
        }
        let client_id = random_string("", TOKEN_ALPHABET, 22);
        let secret = random_string("eyJ", TOKEN_ALPHABET, 80);
        let expires_at = now + self.config().registration_ttl;
        registry.clients.insert(
            client_id.clone(),
            Client {
                secret: secret.clone(),
                name,
                scopes: input.scopes,
                expires_at,
            },
        );
        Ok(RegisterClientOutput {
            client_id,
            client_secret: secret,
            client_id_issued_at: epoch_secs(now),
            client_secret_expires_at: epoch_secs(expires_at),
        })
    }

    /// StartDeviceAuthorization: a device code and user code, valid for
    /// `device_code_ttl`; the verification URIs point at `base_url`.
    pub(super) fn start_device_authorization(
        &self,
        input: StartDeviceAuthorizationInput,
        base_url: &str,
        now: SystemTime,
    ) -> Result<StartDeviceAuthorizationOutput, OidcError> {
        let config = self.config();
        let mut registry = self.lock();
        registry.stats.start_device_authorization += 1;
        let client_id = authenticate(&registry, input.client_id, input.client_secret, now)?;
        let start_url = required(input.start_url, "startUrl")?;
        let device_code = random_string("", TOKEN_ALPHABET, 64);
        let user_code = loop {
            let code = new_user_code();
            if !registry
                .authorizations
                .values()
                .any(|a| a.user_code == code)
            {
                break code;
            }
        };
        registry.authorizations.insert(
            device_code.clone(),
            Authorization {
                user_code: user_code.clone(),
                client_id,
                start_url,
                expires_at: now + config.device_code_ttl,
                polls: 0,
                pending_answers: 0,
                last_poll: None,
                decision: Decision::Pending,
            },
        );
        let verification_uri = format!("{base_url}{VERIFICATION_PATH}");
        Ok(StartDeviceAuthorizationOutput {
            device_code,
            verification_uri_complete: format!("{verification_uri}?user_code={user_code}"),
            user_code,
            verification_uri,
            expires_in: config.device_code_ttl.as_millis().div_ceil(1000) as u64,
            interval: config.interval_secs(),
        })
    }

    /// CreateToken, for the device code and refresh token grants.
    pub(super) fn create_token(
        &self,
        input: CreateTokenInput,
        now: SystemTime,
        instant: Instant,
    ) -> Result<CreateTokenOutput, OidcError> {
        let mut registry = self.lock();
        registry.stats.create_token += 1;
        let client_id = authenticate(&registry, input.client_id, input.client_secret, now)?;
        let grant_type = required(input.grant_type, "grantType")?;
        let result = match grant_type.as_str() {
            DEVICE_CODE_GRANT => {
                let device_code = required(input.device_code, "deviceCode")?;
                self.redeem_device_code(&mut registry, &client_id, &device_code, now, instant)
            }
            REFRESH_TOKEN_GRANT => {
                let refresh_token = required(input.refresh_token, "refreshToken")?;
                self.refresh(&mut registry, &client_id, &refresh_token, now)
            }
            other => Err(OidcError::UnsupportedGrantType(format!(
                "Unsupported grant type: {other}. This simulator serves {DEVICE_CODE_GRANT} and \
                 {REFRESH_TOKEN_GRANT}."
            ))),
        };
        let stats = &mut registry.stats;
        match &result {
            Err(OidcError::AuthorizationPending) => stats.authorization_pending += 1,
            Err(OidcError::SlowDown) => stats.slow_down += 1,
            Err(OidcError::AccessDenied) => stats.access_denied += 1,
            _ => {}
        }
        result
    }

    /// One poll of a device code: the decision, or why there is none yet.
    fn redeem_device_code(
        &self,
        registry: &mut Registry,
        client_id: &str,
        device_code: &str,
        now: SystemTime,
        instant: Instant,
    ) -> Result<CreateTokenOutput, OidcError> {
        let config = self.config();
        let authorization = registry
            .authorizations
            .get_mut(device_code)
            .filter(|authorization| authorization.client_id == client_id)
            .ok_or_else(|| OidcError::InvalidGrant("Invalid device code provided.".into()))?;
        authorization.polls += 1;
        let too_soon = authorization
            .last_poll
            .is_some_and(|last| instant.duration_since(last) < config.poll_interval);
        authorization.last_poll = Some(instant);
        if authorization.expires_at <= now {
            return Err(OidcError::ExpiredToken);
        }
        match authorization.decision {
            Decision::Redeemed => {
                return Err(OidcError::InvalidGrant(
                    "The device code was already used.".into(),
                ));
            }
            Decision::Denied => return Err(OidcError::AccessDenied),
            Decision::Approved | Decision::Pending => {}
        }
        if too_soon || config.slow_down_on_poll == Some(authorization.polls) {
            return Err(OidcError::SlowDown);
        }
        if authorization.decision == Decision::Pending
            && config
                .approve_after_polls
                .is_some_and(|after| authorization.pending_answers >= after)
        {
            authorization.decision = if config.deny {
                Decision::Denied
            } else {
                Decision::Approved
            };
        }
        match authorization.decision {
            Decision::Pending => {
                authorization.pending_answers += 1;
                Err(OidcError::AuthorizationPending)
            }
            Decision::Denied => Err(OidcError::AccessDenied),
            Decision::Approved | Decision::Redeemed => {
                authorization.decision = Decision::Redeemed;
                registry.stats.tokens_issued += 1;
                Ok(self.issue_tokens(registry, client_id, None, now))
            }
        }
    }

    /// The refresh token grant: a new access token, the same refresh token.
    fn refresh(
        &self,
        registry: &mut Registry,
        client_id: &str,
        refresh_token: &str,
        now: SystemTime,
    ) -> Result<CreateTokenOutput, OidcError> {
        let known = registry
            .refresh_tokens
            .get(refresh_token)
            .is_some_and(|token| !token.revoked && token.client_id == client_id);
        if !known {
            return Err(OidcError::InvalidGrant(
                "Invalid refresh token provided.".into(),
            ));
        }
        registry.stats.tokens_refreshed += 1;
        Ok(self.issue_tokens(registry, client_id, Some(refresh_token.to_owned()), now))
    }

    /// A new access token; a refresh token (`refresh_token`, or a new one)
    /// only for clients registered with scopes, as AWS does.
    fn issue_tokens(
        &self,
        registry: &mut Registry,
        client_id: &str,
        refresh_token: Option<String>,
        now: SystemTime,
    ) -> CreateTokenOutput {
        let ttl = self.config().access_token_ttl;
        let with_scopes = registry
            .clients
            .get(client_id)
            .is_some_and(|client| !client.scopes.is_empty());
        let refresh_token = with_scopes.then(|| {
            refresh_token.unwrap_or_else(|| {
                let token = random_string("aor", TOKEN_ALPHABET, 120);
                registry.refresh_tokens.insert(
                    token.clone(),
                    RefreshToken {
                        client_id: client_id.to_owned(),
                        revoked: false,
                    },
                );
                token
            })
        });
        let access_token = random_string("aoa", TOKEN_ALPHABET, 120);
        registry.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                expires_at: now + ttl,
                revoked: false,
                refresh_token: refresh_token.clone(),
            },
        );
        CreateTokenOutput {
            access_token,
            token_type: "Bearer",
            expires_in: ttl.as_secs(),
            refresh_token,
        }
    }
}

/// The client id, if the id and secret match a live registration.
fn authenticate(
    registry: &Registry,
    client_id: Option<String>,
    client_secret: Option<String>,
    now: SystemTime,
) -> Result<String, OidcError> {
    let client_id = required(client_id, "clientId")?;
    let secret = required(client_secret, "clientSecret")?;
    let client = registry
        .clients
        .get(&client_id)
        .filter(|client| client.secret == secret)
        .ok_or_else(|| OidcError::InvalidClient("Invalid client provided.".into()))?;
    if client.expires_at <= now {
        return Err(OidcError::InvalidClient(
            "The client registration has expired.".into(),
        ));
    }
    Ok(client_id)
}
