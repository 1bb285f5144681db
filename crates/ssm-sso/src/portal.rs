//! The SSO portal: checking that a fresh token really opens the
//! profile's role (GetRoleCredentials; the credentials are not kept, the
//! SDKs fetch their own from the cached token), and signing out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sso::Client;
use aws_sdk_sso::error::ProvideErrorMetadata;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::error::LoginError;
use crate::flow::classify;
use crate::token::CachedToken;

/// A role the token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCheck {
    /// The account.
    pub account_id: String,
    /// The role.
    pub role_name: String,
    /// When the role credentials it gave expire.
    pub credentials_expire_at: SystemTime,
}

fn portal(sdk_config: &SdkConfig, token: &CachedToken) -> Client {
    let config = aws_sdk_sso::config::Builder::from(sdk_config)
        .region(Region::new(token.region.clone()))
        .build();
    Client::from_conf(config)
}

/// Asks the portal for `role_name` in `account_id` with `token`.
pub async fn check_role(
    sdk_config: &SdkConfig,
    token: &CachedToken,
    account_id: &str,
    role_name: &str,
) -> Result<RoleCheck, LoginError> {
    let output = portal(sdk_config, token)
        .get_role_credentials()
        .access_token(&token.access_token)
        .account_id(account_id)
        .role_name(role_name)
        .send()
        .await
        .map_err(|error| {
            let code = error
                .as_service_error()
                .and_then(|e| e.code())
                .unwrap_or("");
            match code {
                "UnauthorizedException" => LoginError::Unauthorized,
                "ForbiddenException" | "ResourceNotFoundException" => LoginError::RoleNotAssigned {
                    account: account_id.to_owned(),
                    role: role_name.to_owned(),
                    message: error
                        .as_service_error()
                        .and_then(|e| e.message())
                        .unwrap_or(code)
                        .to_owned(),
                },
                _ => classify("GetRoleCredentials", error),
            }
        })?;
    let expiration_ms = output
        .role_credentials()
        .map_or(0, |credentials| credentials.expiration());
    Ok(RoleCheck {
        account_id: account_id.to_owned(),
        role_name: role_name.to_owned(),
        credentials_expire_at: UNIX_EPOCH
            + Duration::from_millis(u64::try_from(expiration_ms).unwrap_or(0)),
    })
}

/// Ends the token's session at the portal (as `aws sso logout` does).
/// An already expired or unknown token counts as signed out.
pub async fn logout_remote(sdk_config: &SdkConfig, token: &CachedToken) -> Result<(), LoginError> {
    match portal(sdk_config, token)
        .logout()
        .access_token(&token.access_token)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.code() == Some("UnauthorizedException")) =>
        {
            Ok(())
        }
        Err(error) => Err(classify("Logout", error)),
    }
}
