//! The IAM Identity Center fake through the real AWS SDK clients
//! (aws-sdk-ssooidc, aws-sdk-sso) against a simulator on loopback: the
//! device authorization flow (pending, slow-down, approval by hook, page
//! and policy, denial, expiry, refresh), the portal (role credentials,
//! listings, logout), and the credentials it issues as the SSM and STS
//! fakes then see them.
//!
//! Every client is built from one `SdkConfig` with static credentials (or
//! none) and no IMDS client, so nothing here can reach instance metadata.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ssooidc::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssooidc::operation::create_token::{CreateTokenError, CreateTokenOutput};
use aws_smithy_http_client::tls;
use ssm_sim::sso::{SSO_ACCESS_KEY_PREFIX, SsoAccount, SsoConfig};
use ssm_sim::{SimConfig, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const START_URL: &str = "https://example.awsapps.com/start";
const SCOPE: &str = "sso:account:access";

async fn sim_with(sso: SsoConfig) -> Simulator {
    Simulator::start(SimConfig {
        sso,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// The defaults, but polls may come as fast as the test makes them.
fn fast() -> SsoConfig {
    SsoConfig {
        poll_interval: Duration::ZERO,
        ..SsoConfig::default()
    }
}

fn http_client() -> aws_sdk_ssooidc::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// One SDK configuration for every client: the simulator's endpoint,
/// no retries, and `credentials` (none for SSO OIDC and the portal, whose
/// calls are unsigned).
fn sdk_config(sim: &Simulator, credentials: Option<&Creds>) -> aws_types::SdkConfig {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_sdk_ssooidc::config::{BehaviorVersion, Region, retry::RetryConfig};
    let mut config = aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(sim.endpoint_url())
        .http_client(http_client())
        .retry_config(RetryConfig::disabled());
    if let Some(credentials) = credentials {
        config = config.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.clone(),
            None,
            "test",
        )));
    }
    config.build()
}

fn oidc(sim: &Simulator) -> aws_sdk_ssooidc::Client {
    aws_sdk_ssooidc::Client::new(&sdk_config(sim, None))
}

fn portal(sim: &Simulator) -> aws_sdk_sso::Client {
    aws_sdk_sso::Client::new(&sdk_config(sim, None))
}

fn ssm(sim: &Simulator, credentials: &Creds) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk_config(sim, Some(credentials)))
}

fn sts(sim: &Simulator, credentials: &Creds) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&sdk_config(sim, Some(credentials)))
}

/// A registered client and one device authorization of it.
struct Flow {
    client: aws_sdk_ssooidc::Client,
    client_id: String,
    client_secret: String,
    device_code: String,
    user_code: String,
    verification_uri_complete: String,
}

impl Flow {
    /// RegisterClient (with the `sso:account:access` scope, as for an
    /// `sso-session`) and StartDeviceAuthorization.
    async fn start(sim: &Simulator) -> Self {
        let client = oidc(sim);
        let registration = client
            .register_client()
            .client_name("ssm-forward-test")
            .client_type("public")
            .scopes(SCOPE)
            .send()
            .await
            .expect("RegisterClient succeeds");
        let client_id = registration.client_id().unwrap().to_owned();
        let client_secret = registration.client_secret().unwrap().to_owned();
        let authorization = client
            .start_device_authorization()
            .client_id(&client_id)
            .client_secret(&client_secret)
            .start_url(START_URL)
            .send()
            .await
            .expect("StartDeviceAuthorization succeeds");
        Self {
            client,
            client_id,
            client_secret,
            device_code: authorization.device_code().unwrap().to_owned(),
            user_code: authorization.user_code().unwrap().to_owned(),
            verification_uri_complete: authorization
                .verification_uri_complete()
                .unwrap()
                .to_owned(),
        }
    }

    /// One CreateToken poll with the device code.
    async fn poll(&self) -> Result<CreateTokenOutput, CreateTokenError> {
        self.client
            .create_token()
            .client_id(&self.client_id)
            .client_secret(&self.client_secret)
            .grant_type(DEVICE_GRANT)
            .device_code(&self.device_code)
            .send()
            .await
            .map_err(SdkError::into_service_error)
    }

    /// Polls until the answer is not `AuthorizationPendingException`.
    async fn poll_until_decided(&self) -> Result<CreateTokenOutput, CreateTokenError> {
        for _ in 0..50 {
            match self.poll().await {
                Err(CreateTokenError::AuthorizationPendingException(_)) => {}
                other => return other,
            }
        }
        panic!("still pending after 50 polls");
    }

    async fn token(&self) -> CreateTokenOutput {
        self.poll_until_decided().await.expect("a token")
    }
}

/// Role credentials, as a client would hold them.
#[derive(Debug, Clone)]
struct Creds {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration_ms: i64,
}

async fn role_credentials(sim: &Simulator, access_token: &str, role: &str) -> Creds {
    let output = portal(sim)
        .get_role_credentials()
        .access_token(access_token)
        .account_id("123456789012")
        .role_name(role)
        .send()
        .await
        .expect("GetRoleCredentials succeeds");
    let credentials = output.role_credentials().expect("role credentials");
    Creds {
        access_key_id: credentials.access_key_id().unwrap().to_owned(),
        secret_access_key: credentials.secret_access_key().unwrap().to_owned(),
        session_token: credentials.session_token().map(str::to_owned),
        expiration_ms: credentials.expiration(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The code of an SSM call's error, with its HTTP status.
async fn ssm_error(sim: &Simulator, credentials: &Creds) -> (u16, String) {
    let error = ssm(sim, credentials)
        .describe_instance_information()
        .send()
        .await
        .expect_err("refused");
    let status = error.raw_response().map_or(0, |raw| raw.status().as_u16());
    let code = error.into_service_error().code().unwrap_or("").to_owned();
    (status, code)
}

#[tokio::test]
async fn device_flow_registers_starts_and_points_at_the_approval_page() {
    let sim = sim_with(SsoConfig::default()).await;
    let client = oidc(&sim);
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let registration = client
        .register_client()
        .client_name("ssm-forward")
        .client_type("public")
        .scopes(SCOPE)
        .send()
        .await
        .unwrap();
    let issued_at = registration.client_id_issued_at();
    assert!((before..=before + 5).contains(&issued_at), "{issued_at}");
    assert_eq!(
        registration.client_secret_expires_at() - issued_at,
        90 * 24 * 3600
    );
    let authorization = client
        .start_device_authorization()
        .client_id(registration.client_id().unwrap())
        .client_secret(registration.client_secret().unwrap())
        .start_url(START_URL)
        .send()
        .await
        .unwrap();
    let user_code = authorization.user_code().unwrap();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    let page = format!("{}/sso/device", sim.endpoint_url());
    assert_eq!(authorization.verification_uri(), Some(page.as_str()));
    assert_eq!(
        authorization.verification_uri_complete(),
        Some(format!("{page}?user_code={user_code}").as_str())
    );
    assert_eq!(authorization.expires_in(), 600);
    assert_eq!(authorization.interval(), 1);
    let pending = sim.sso().pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user_code, user_code);
    assert_eq!(pending[0].client_name, "ssm-forward");
    assert_eq!(pending[0].start_url, START_URL);
}

#[tokio::test]
async fn polling_faster_than_the_interval_is_slowed_down() {
    let sim = sim_with(SsoConfig {
        poll_interval: Duration::from_secs(60),
        ..SsoConfig::default()
    })
    .await;
    let flow = Flow::start(&sim).await;
    let first = flow.poll().await.unwrap_err();
    assert!(first.is_authorization_pending_exception(), "{first:?}");
    let second = flow.poll().await.unwrap_err();
    assert!(second.is_slow_down_exception(), "{second:?}");
    assert_eq!(second.code(), Some("SlowDownException"));
    let CreateTokenError::SlowDownException(slow_down) = second else {
        unreachable!()
    };
    assert_eq!(slow_down.error(), Some("slow_down"));
    let stats = sim.sso().stats();
    assert_eq!((stats.authorization_pending, stats.slow_down), (1, 1));
}

#[tokio::test]
async fn pending_then_slow_down_then_automatic_approval_then_refresh() {
    let sim = sim_with(SsoConfig {
        slow_down_on_poll: Some(2),
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    let pending = flow.poll().await.unwrap_err();
    let CreateTokenError::AuthorizationPendingException(pending) = pending else {
        panic!("not pending: {pending:?}");
    };
    assert_eq!(pending.error(), Some("authorization_pending"));
    assert!(flow.poll().await.unwrap_err().is_slow_down_exception());
    assert!(
        flow.poll()
            .await
            .unwrap_err()
            .is_authorization_pending_exception(),
        "slow-downs do not count towards approval"
    );
    let token = flow
        .poll()
        .await
        .expect("approved after two pending answers");
    assert_eq!(token.token_type(), Some("Bearer"));
    assert_eq!(token.expires_in(), 8 * 3600);
    assert!(token.access_token().is_some_and(|t| t.len() > 20));
    let refresh_token = token.refresh_token().expect("a refresh token").to_owned();
    let again = flow.poll().await.unwrap_err();
    assert!(again.is_invalid_grant_exception(), "{again:?}");

    let refreshed = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret(&flow.client_secret)
        .grant_type("refresh_token")
        .refresh_token(&refresh_token)
        .send()
        .await
        .expect("refresh succeeds");
    assert_ne!(refreshed.access_token(), token.access_token());
    assert_eq!(refreshed.refresh_token(), Some(refresh_token.as_str()));
    role_credentials(&sim, refreshed.access_token().unwrap(), "ssm-forward-user").await;

    let bad = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret(&flow.client_secret)
        .grant_type("refresh_token")
        .refresh_token("aorNOPE")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(bad.is_invalid_grant_exception(), "{bad:?}");
    let stats = sim.sso().stats();
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.tokens_refreshed, 1);
    assert_eq!(stats.authorization_pending, 2);
    assert_eq!(stats.slow_down, 1);
}

#[tokio::test]
async fn without_scopes_there_is_no_refresh_token() {
    let sim = sim_with(fast()).await;
    let client = oidc(&sim);
    let registration = client
        .register_client()
        .client_name("legacy")
        .client_type("public")
        .send()
        .await
        .unwrap();
    let authorization = client
        .start_device_authorization()
        .client_id(registration.client_id().unwrap())
        .client_secret(registration.client_secret().unwrap())
        .start_url(START_URL)
        .send()
        .await
        .unwrap();
    let flow = Flow {
        client,
        client_id: registration.client_id().unwrap().to_owned(),
        client_secret: registration.client_secret().unwrap().to_owned(),
        device_code: authorization.device_code().unwrap().to_owned(),
        user_code: authorization.user_code().unwrap().to_owned(),
        verification_uri_complete: String::new(),
    };
    assert_eq!(flow.token().await.refresh_token(), None);
}

#[tokio::test]
async fn a_hook_approves_when_there_is_no_automatic_decision() {
    let sim = sim_with(SsoConfig {
        approve_after_polls: None,
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    for _ in 0..5 {
        assert!(
            flow.poll()
                .await
                .unwrap_err()
                .is_authorization_pending_exception()
        );
    }
    assert_eq!(sim.sso().pending()[0].polls, 5);
    assert!(!sim.sso().approve("ZZZZ-ZZZZ"));
    assert!(sim.sso().approve(&flow.user_code.to_lowercase()));
    assert!(sim.sso().pending().is_empty());
    flow.poll().await.expect("approved by the hook");
}

#[tokio::test]
async fn a_hook_or_the_policy_denies() {
    let sim = sim_with(SsoConfig {
        approve_after_polls: None,
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    assert!(sim.sso().deny(&flow.user_code));
    let denied = flow.poll().await.unwrap_err();
    let CreateTokenError::AccessDeniedException(denied) = denied else {
        panic!("not denied: {denied:?}");
    };
    assert_eq!(denied.error(), Some("access_denied"));

    let sim = sim_with(SsoConfig {
        approve_after_polls: Some(1),
        deny: true,
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    let denied = flow.poll_until_decided().await.unwrap_err();
    assert!(denied.is_access_denied_exception(), "{denied:?}");
    assert_eq!(sim.sso().stats().access_denied, 1);
}

#[tokio::test]
async fn device_codes_expire_by_ttl_or_hook() {
    let sim = sim_with(SsoConfig {
        device_code_ttl: Duration::ZERO,
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    let expired = flow.poll().await.unwrap_err();
    let CreateTokenError::ExpiredTokenException(expired) = expired else {
        panic!("not expired: {expired:?}");
    };
    assert_eq!(expired.error(), Some("expired_token"));
    assert!(sim.sso().pending().is_empty());
    assert!(
        !sim.sso().approve(&flow.user_code),
        "expired codes stay expired"
    );

    let sim = sim_with(SsoConfig {
        approve_after_polls: None,
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    assert!(
        flow.poll()
            .await
            .unwrap_err()
            .is_authorization_pending_exception()
    );
    assert_eq!(sim.sso().expire_device_codes(), 1);
    assert!(flow.poll().await.unwrap_err().is_expired_token_exception());
}

#[tokio::test]
async fn bad_clients_grants_and_codes_get_their_typed_errors() {
    let sim = sim_with(fast()).await;
    let flow = Flow::start(&sim).await;
    let wrong_secret = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret("not-the-secret")
        .grant_type(DEVICE_GRANT)
        .device_code(&flow.device_code)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        wrong_secret.raw_response().map(|raw| raw.status().as_u16()),
        Some(401)
    );
    assert!(
        wrong_secret
            .into_service_error()
            .is_invalid_client_exception()
    );
    let unknown_code = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret(&flow.client_secret)
        .grant_type(DEVICE_GRANT)
        .device_code("no-such-code")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        unknown_code.is_invalid_grant_exception(),
        "{unknown_code:?}"
    );
    let code_grant = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret(&flow.client_secret)
        .grant_type("authorization_code")
        .code("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        code_grant.is_unsupported_grant_type_exception(),
        "{code_grant:?}"
    );
    let confidential = flow
        .client
        .register_client()
        .client_name("x")
        .client_type("confidential")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        confidential.is_invalid_client_metadata_exception(),
        "{confidential:?}"
    );

    let sim = sim_with(SsoConfig {
        registration_ttl: Duration::ZERO,
        ..fast()
    })
    .await;
    let client = oidc(&sim);
    let registration = client
        .register_client()
        .client_name("x")
        .client_type("public")
        .send()
        .await
        .unwrap();
    let expired = client
        .start_device_authorization()
        .client_id(registration.client_id().unwrap())
        .client_secret(registration.client_secret().unwrap())
        .start_url(START_URL)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(expired.is_invalid_client_exception(), "{expired:?}");
}

#[tokio::test]
async fn the_approval_page_approves_in_a_browser() {
    let sim = sim_with(SsoConfig {
        approve_after_polls: None,
        ..fast()
    })
    .await;
    let flow = Flow::start(&sim).await;
    let path = flow
        .verification_uri_complete
        .strip_prefix(&sim.endpoint_url())
        .expect("the page is on the simulator");
    let (status, page) = http(&sim, "GET", path, "").await;
    assert_eq!(status, 200);
    assert!(page.contains(&flow.user_code), "{page}");
    assert!(page.contains("Approve") && page.contains("Deny"), "{page}");
    let form = format!("user_code={}&action=approve", flow.user_code);
    let (status, page) = http(&sim, "POST", "/sso/device", &form).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("approved"), "{page}");
    flow.poll().await.expect("approved on the page");
    let (status, _) = http(&sim, "POST", "/sso/device", &form).await;
    assert_eq!(status, 404, "already decided");
}

/// One HTTP/1.1 request to the simulator; the status and body.
async fn http(sim: &Simulator, method: &str, path: &str, form: &str) -> (u16, String) {
    let addr = sim.endpoint_url().replace("http://", "");
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn the_portal_lists_accounts_and_roles_and_refuses_unassigned_roles() {
    let mut sso = fast();
    sso.accounts.push(SsoAccount::new(
        "222233334444",
        "staging",
        &["dev", "admin"],
    ));
    sso.accounts
        .push(SsoAccount::new("111122223333", "prod", &["readonly"]));
    let sim = sim_with(sso).await;
    let token = Flow::start(&sim).await.token().await;
    let token = token.access_token().unwrap();
    let portal = portal(&sim);

    let first = portal
        .list_accounts()
        .access_token(token)
        .max_results(2)
        .send()
        .await
        .unwrap();
    let ids: Vec<_> = first
        .account_list()
        .iter()
        .map(|a| a.account_id().unwrap())
        .collect();
    assert_eq!(ids, ["111122223333", "123456789012"]);
    assert_eq!(first.account_list()[1].account_name(), Some("sim-account"));
    let second = portal
        .list_accounts()
        .access_token(token)
        .max_results(2)
        .next_token(first.next_token().expect("a second page"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.account_list()[0].account_id(), Some("222233334444"));
    assert_eq!(
        second.account_list()[0].email_address(),
        Some("staging@example.com")
    );
    assert_eq!(second.next_token(), None);

    let roles = portal
        .list_account_roles()
        .access_token(token)
        .account_id("222233334444")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = roles
        .role_list()
        .iter()
        .map(|r| (r.role_name().unwrap(), r.account_id().unwrap()))
        .collect();
    assert_eq!(names, [("admin", "222233334444"), ("dev", "222233334444")]);

    let forbidden = portal
        .get_role_credentials()
        .access_token(token)
        .account_id("111122223333")
        .role_name("admin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        forbidden.raw_response().map(|raw| raw.status().as_u16()),
        Some(403)
    );
    assert_eq!(
        forbidden.into_service_error().code(),
        Some("ForbiddenException")
    );
    let unauthorized = portal
        .get_role_credentials()
        .access_token("aoaNOPE")
        .account_id("123456789012")
        .role_name("ssm-forward-user")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(unauthorized.is_unauthorized_exception(), "{unauthorized:?}");
    let stats = sim.sso().stats();
    assert_eq!((stats.list_accounts, stats.list_account_roles), (2, 1));
    assert_eq!(stats.get_role_credentials, 2);
    assert_eq!(stats.role_credentials_issued, 0);
}

#[tokio::test]
async fn issued_credentials_work_for_ssm_and_sts_until_they_expire() {
    let sim = sim_with(fast()).await;
    let token = Flow::start(&sim).await.token().await;
    let credentials =
        role_credentials(&sim, token.access_token().unwrap(), "ssm-forward-user").await;
    assert!(credentials.access_key_id.starts_with(SSO_ACCESS_KEY_PREFIX));
    assert_eq!(credentials.access_key_id.len(), 20);
    let lifetime = credentials.expiration_ms - now_ms();
    assert!(
        (3_590_000..=3_600_000).contains(&lifetime),
        "expiration is epoch ms an hour ahead: {lifetime}"
    );

    ssm(&sim, &credentials)
        .describe_instance_information()
        .send()
        .await
        .expect("SSM accepts live SSO credentials");
    let identity = sts(&sim, &credentials)
        .get_caller_identity()
        .send()
        .await
        .expect("STS accepts live SSO credentials");
    let arn = identity.arn().unwrap();
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ssm-forward-user_")
            && arn.ends_with("/sim-user"),
        "{arn}"
    );

    let wrong_token = Creds {
        session_token: Some("forged".into()),
        ..credentials.clone()
    };
    assert_eq!(
        ssm_error(&sim, &wrong_token).await,
        (400, "UnrecognizedClientException".into())
    );
    let unknown = Creds {
        access_key_id: format!("{SSO_ACCESS_KEY_PREFIX}ZZZZZZZZZZ"),
        ..credentials.clone()
    };
    assert_eq!(
        ssm_error(&sim, &unknown).await,
        (400, "UnrecognizedClientException".into())
    );
    let sts_unknown = sts(&sim, &unknown)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sts_unknown.raw_response().map(|raw| raw.status().as_u16()),
        Some(403)
    );
    assert_eq!(
        sts_unknown.into_service_error().code(),
        Some("InvalidClientTokenId")
    );

    assert_eq!(sim.sso().expire_role_credentials(), 1);
    assert!(!sim.sso().issued_credentials()[0].valid);
    assert_eq!(
        ssm_error(&sim, &credentials).await,
        (400, "ExpiredTokenException".into())
    );
    let sts_expired = sts(&sim, &credentials)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(sts_expired.code(), Some("ExpiredToken"));
    let other = Creds {
        access_key_id: "AKIATEST".into(),
        secret_access_key: "secret".into(),
        session_token: None,
        expiration_ms: 0,
    };
    ssm(&sim, &other)
        .describe_instance_information()
        .send()
        .await
        .expect("other keys keep working");
    let stats = sim.sso().stats();
    assert_eq!(stats.credentials_accepted, 2);
    assert_eq!(stats.credentials_rejected, 5);
}

#[tokio::test]
async fn expired_access_tokens_are_unauthorized_until_refreshed() {
    let sim = sim_with(fast()).await;
    let flow = Flow::start(&sim).await;
    let token = flow.token().await;
    assert_eq!(sim.sso().expire_access_tokens(), 1);
    let expired = portal(&sim)
        .list_accounts()
        .access_token(token.access_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        expired.raw_response().map(|raw| raw.status().as_u16()),
        Some(401)
    );
    assert!(expired.into_service_error().is_unauthorized_exception());
    let refreshed = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret(&flow.client_secret)
        .grant_type("refresh_token")
        .refresh_token(token.refresh_token().unwrap())
        .send()
        .await
        .unwrap();
    role_credentials(&sim, refreshed.access_token().unwrap(), "ssm-forward-user").await;
}

#[tokio::test]
async fn logout_ends_the_token_and_credentials_live_on_as_in_aws() {
    let sim = sim_with(fast()).await;
    let flow = Flow::start(&sim).await;
    let token = flow.token().await;
    let access_token = token.access_token().unwrap();
    let credentials = role_credentials(&sim, access_token, "ssm-forward-user").await;
    portal(&sim)
        .logout()
        .access_token(access_token)
        .send()
        .await
        .expect("Logout succeeds");
    let after = portal(&sim)
        .list_accounts()
        .access_token(access_token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(after.is_unauthorized_exception(), "{after:?}");
    let refresh = flow
        .client
        .create_token()
        .client_id(&flow.client_id)
        .client_secret(&flow.client_secret)
        .grant_type("refresh_token")
        .refresh_token(token.refresh_token().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(refresh.is_invalid_grant_exception(), "{refresh:?}");
    ssm(&sim, &credentials)
        .describe_instance_information()
        .send()
        .await
        .expect("role sessions outlive the sign-in session");
    assert_eq!(sim.sso().stats().logout, 1);
}

#[tokio::test]
async fn logout_can_revoke_credentials_too() {
    let sim = sim_with(SsoConfig {
        revoke_credentials_on_logout: true,
        ..fast()
    })
    .await;
    let token = Flow::start(&sim).await.token().await;
    let access_token = token.access_token().unwrap();
    let credentials = role_credentials(&sim, access_token, "ssm-forward-user").await;
    portal(&sim)
        .logout()
        .access_token(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ssm_error(&sim, &credentials).await,
        (400, "UnrecognizedClientException".into())
    );
}
