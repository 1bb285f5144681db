//! The approval page: what the user opens in a browser at
//! `verificationUriComplete` (`GET /sso/device?user_code=ABCD-EFGH`). Its
//! Approve and Deny buttons post the form back (`POST /sso/device`), which
//! does what [`Sso::approve`] and [`Sso::deny`] do. Without a `user_code`
//! the page asks for one.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::oidc::VERIFICATION_PATH;
use super::state::Sso;
use crate::form;
use crate::service::Service;

/// The approval page routes, to merge into the API router.
pub(super) fn routes() -> Router<Service> {
    Router::new().route(VERIFICATION_PATH, get(show).post(decide))
}

async fn show(RawQuery(query): RawQuery) -> Response {
    let params = form::parse(query.as_deref().unwrap_or(""));
    let user_code = form::get(&params, "user_code").unwrap_or("");
    html(StatusCode::OK, &approval_form(user_code))
}

async fn decide(State(service): State<Service>, body: Bytes) -> Response {
    let params = form::parse(&String::from_utf8_lossy(&body));
    let user_code = form::get(&params, "user_code").unwrap_or("");
    let action = form::get(&params, "action").unwrap_or("");
    let (status, text) = apply(service.sso(), user_code, action);
    html(status, &format!("<p>{}</p>", escape(&text)))
}

/// Approves or denies; the status and sentence to show.
fn apply(sso: &Sso, user_code: &str, action: &str) -> (StatusCode, String) {
    let decided = match action {
        "approve" => sso.approve(user_code),
        "deny" => sso.deny(user_code),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                format!("Unknown action {action:?}."),
            );
        }
    };
    if decided {
        let done = if action == "approve" {
            "approved"
        } else {
            "denied"
        };
        (
            StatusCode::OK,
            format!("Request {user_code} {done}. You can close this window."),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            format!("No pending request has the code {user_code:?} (expired or already decided)."),
        )
    }
}

fn approval_form(user_code: &str) -> String {
    let code = escape(user_code);
    let code_field = if user_code.is_empty() {
        "<p><label>Code <input name=\"user_code\" autofocus></label></p>".to_owned()
    } else {
        format!(
            "<p>Allow the request with code <b>{code}</b>?</p>\
             <input type=\"hidden\" name=\"user_code\" value=\"{code}\">"
        )
    };
    format!(
        "<h1>ssm-sim: IAM Identity Center</h1>\
         <form method=\"post\" action=\"{VERIFICATION_PATH}\">{code_field}\
         <button name=\"action\" value=\"approve\">Approve</button> \
         <button name=\"action\" value=\"deny\">Deny</button></form>"
    )
}

fn html(status: StatusCode, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ssm-sim sign-in</title>\
         </head><body>{body}</body></html>\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; form-action 'self'",
            ),
        ],
        page,
    )
        .into_response()
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sso::SsoConfig;

    #[test]
    fn the_form_escapes_the_user_code() {
        let page = approval_form("\"><script>alert(1)</script>");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
        assert!(page.contains("value=\"approve\"") && page.contains("value=\"deny\""));
        assert!(approval_form("").contains("<input name=\"user_code\""));
    }

    #[test]
    fn unknown_codes_and_actions_are_refused() {
        let sso = Sso::new(SsoConfig::default());
        assert_eq!(apply(&sso, "BCDF-GHJK", "approve").0, StatusCode::NOT_FOUND);
        assert_eq!(
            apply(&sso, "BCDF-GHJK", "delete").0,
            StatusCode::BAD_REQUEST
        );
    }
}
