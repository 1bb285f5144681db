//! The SSO portal (`aws-sdk-sso`, the `portal.sso.REGION.amazonaws.com`
//! service that aws-config's SSO credential provider calls):
//! GetRoleCredentials (`GET /federation/credentials`), ListAccounts
//! (`GET /assignment/accounts`), ListAccountRoles (`GET /assignment/roles`)
//! and Logout (`POST /logout`), authorized by the access token in the
//! `x-amz-sso_bearer_token` header.

use std::time::SystemTime;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::error::PortalError;
use super::state::{
    KEY_ALPHABET, Registry, RoleCredentials as Issued, SSO_ACCESS_KEY_PREFIX, Sso, TOKEN_ALPHABET,
    epoch_millis, random_string,
};
use crate::fleet;
use crate::form;
use crate::service::Service;

/// The header carrying the access token.
const BEARER_TOKEN: HeaderName = HeaderName::from_static("x-amz-sso_bearer_token");
/// Page size of the listings when `max_result` is absent.
const DEFAULT_PAGE_SIZE: usize = 20;

/// The SSO portal routes, to merge into the API router.
pub(super) fn routes() -> Router<Service> {
    Router::new()
        .route("/federation/credentials", get(get_role_credentials))
        .route("/assignment/accounts", get(list_accounts))
        .route("/assignment/roles", get(list_account_roles))
        .route("/logout", post(logout))
}

/// GetRoleCredentials output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetRoleCredentialsOutput {
    role_credentials: RoleCredentials,
}

/// The `RoleCredentials` shape; `expiration` is epoch milliseconds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: i64,
}

/// ListAccounts output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListAccountsOutput {
    account_list: Vec<AccountInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountInfo {
    account_id: String,
    account_name: String,
    email_address: String,
}

/// ListAccountRoles output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListAccountRolesOutput {
    role_list: Vec<RoleInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleInfo {
    role_name: String,
    account_id: String,
}

async fn get_role_credentials(
    State(service): State<Service>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    query_call(
        "GetRoleCredentials",
        &service,
        &headers,
        query,
        Sso::get_role_credentials,
    )
}

async fn list_accounts(
    State(service): State<Service>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    query_call(
        "ListAccounts",
        &service,
        &headers,
        query,
        Sso::list_accounts,
    )
}

async fn list_account_roles(
    State(service): State<Service>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    query_call(
        "ListAccountRoles",
        &service,
        &headers,
        query,
        Sso::list_account_roles,
    )
}

/// A portal GET: hands the bearer token and the query parameters to
/// `call` and answers with what it returns.
fn query_call<O: Serialize>(
    operation: &str,
    service: &Service,
    headers: &HeaderMap,
    query: Option<String>,
    call: impl FnOnce(&Sso, Option<&str>, &[(String, String)], SystemTime) -> Result<O, PortalError>,
) -> Response {
    let params = form::parse(query.as_deref().unwrap_or(""));
    super::respond(
        operation,
        call(service.sso(), bearer(headers), &params, SystemTime::now()),
    )
}

async fn logout(State(service): State<Service>, headers: HeaderMap) -> Response {
    match service.sso().logout(bearer(&headers), SystemTime::now()) {
        // Logout answers 200 with an empty body.
        Ok(()) => super::with_request_id("Logout", StatusCode::OK.into_response()),
        Err(error) => super::respond::<(), _>("Logout", Err(error)),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(BEARER_TOKEN)
        .and_then(|value| value.to_str().ok())
}

fn required<'a>(params: &'a [(String, String)], name: &str) -> Result<&'a str, PortalError> {
    form::get(params, name)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PortalError::InvalidRequest(format!("{name} is required.")))
}

/// The page size of `max_result` (1 or more).
fn page_size(params: &[(String, String)]) -> Result<usize, PortalError> {
    let Some(text) = form::get(params, "max_result") else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    text.parse()
        .ok()
        .filter(|size| *size >= 1)
        .ok_or_else(|| PortalError::InvalidRequest(format!("Invalid max_result: {text}.")))
}

/// A page of `items`, keyed and scoped for the page tokens.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    scope: &str,
    params: &[(String, String)],
) -> Result<fleet::Page<T>, PortalError> {
    fleet::paginate(
        items,
        key,
        scope,
        page_size(params)?,
        form::get(params, "next_token"),
    )
    .map_err(|_| PortalError::InvalidRequest("Invalid next_token.".into()))
}

impl Sso {
    /// GetRoleCredentials: new credentials for an assigned role.
    pub(super) fn get_role_credentials(
        &self,
        token: Option<&str>,
        params: &[(String, String)],
        now: SystemTime,
    ) -> Result<GetRoleCredentialsOutput, PortalError> {
        let config = self.config();
        let mut registry = self.lock();
        registry.stats.get_role_credentials += 1;
        let role_name = required(params, "role_name")?;
        let account_id = required(params, "account_id")?;
        let token = authorize(&registry, token, now)?;
        if !config
            .account(account_id)
            .is_some_and(|account| account.has_role(role_name))
        {
            return Err(PortalError::Forbidden);
        }
        let access_key_id = random_string(SSO_ACCESS_KEY_PREFIX, KEY_ALPHABET, 10);
        let issued = Issued {
            secret_access_key: random_string("", TOKEN_ALPHABET, 40),
            session_token: random_string("IQoJb3JpZ2luX2VjE", TOKEN_ALPHABET, 300),
            account_id: account_id.to_owned(),
            role_name: role_name.to_owned(),
            access_token: token.to_owned(),
            expires_at: now + config.role_credentials_ttl,
            revoked: false,
        };
        let output = GetRoleCredentialsOutput {
            role_credentials: RoleCredentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: issued.secret_access_key.clone(),
                session_token: issued.session_token.clone(),
                expiration: epoch_millis(issued.expires_at),
            },
        };
        registry.credentials.insert(access_key_id, issued);
        registry.stats.role_credentials_issued += 1;
        tracing::debug!(account_id, role_name, "role credentials issued");
        Ok(output)
    }

    /// ListAccounts: the assigned accounts, in account id order.
    pub(super) fn list_accounts(
        &self,
        token: Option<&str>,
        params: &[(String, String)],
        now: SystemTime,
    ) -> Result<ListAccountsOutput, PortalError> {
        let mut registry = self.lock();
        registry.stats.list_accounts += 1;
        authorize(&registry, token, now)?;
        let accounts = self
            .config()
            .accounts
            .iter()
            .map(|account| AccountInfo {
                account_id: account.account_id.clone(),
                account_name: account.account_name.clone(),
                email_address: account.email_address.clone(),
            })
            .collect();
        let page = page(accounts, |a| a.account_id.clone(), "sso-accounts", params)?;
        Ok(ListAccountsOutput {
            account_list: page.items,
            next_token: page.next_token,
        })
    }

    /// ListAccountRoles: the roles assigned in one account, in name order
    /// (none for an account not assigned).
    pub(super) fn list_account_roles(
        &self,
        token: Option<&str>,
        params: &[(String, String)],
        now: SystemTime,
    ) -> Result<ListAccountRolesOutput, PortalError> {
        let mut registry = self.lock();
        registry.stats.list_account_roles += 1;
        let account_id = required(params, "account_id")?;
        authorize(&registry, token, now)?;
        let roles = self
            .config()
            .account(account_id)
            .map(|account| {
                account
                    .roles
                    .iter()
                    .map(|role| RoleInfo {
                        role_name: role.clone(),
                        account_id: account_id.to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let scope = format!("sso-roles-{account_id}");
        let page = page(roles, |r| r.role_name.clone(), &scope, params)?;
        Ok(ListAccountRolesOutput {
            role_list: page.items,
            next_token: page.next_token,
        })
    }

    /// Logout: the access token and its refresh token stop working; role
    /// credentials obtained with it too only when configured so.
    pub(super) fn logout(&self, token: Option<&str>, now: SystemTime) -> Result<(), PortalError> {
        let revoke_credentials = self.config().revoke_credentials_on_logout;
        let mut registry = self.lock();
        registry.stats.logout += 1;
        let token = authorize(&registry, token, now)?.to_owned();
        let refresh_token = registry.access_tokens.get_mut(&token).and_then(|record| {
            record.revoked = true;
            record.refresh_token.clone()
        });
        if let Some(refresh) = refresh_token.and_then(|t| registry.refresh_tokens.get_mut(&t)) {
            refresh.revoked = true;
        }
        if revoke_credentials {
            for credentials in registry.credentials.values_mut() {
                if credentials.access_token == token {
                    credentials.revoked = true;
                }
            }
        }
        Ok(())
    }
}

/// The bearer token, if it is a live access token.
fn authorize<'a>(
    registry: &Registry,
    token: Option<&'a str>,
    now: SystemTime,
) -> Result<&'a str, PortalError> {
    let token = token.ok_or(PortalError::Unauthorized)?;
    registry
        .access_tokens
        .get(token)
        .filter(|record| !record.revoked && record.expires_at > now)
        .map(|_| token)
        .ok_or(PortalError::Unauthorized)
}
