//! The session operations on the wire: StartSession, ResumeSession,
//! TerminateSession and DescribeSessions.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::time::{epoch_seconds, parse_timestamp};
use crate::fleet::{self, Page};
use crate::registry::SessionSummary;
use crate::service::{ResumeSessionOutput, Service, StartSessionInput, StartSessionOutput};

/// DescribeSessions page size when `MaxResults` is absent.
const DEFAULT_SESSION_PAGE: usize = 20;
/// Largest `MaxResults` DescribeSessions accepts.
const MAX_SESSION_PAGE: i64 = 200;
/// Most filters DescribeSessions accepts.
const MAX_SESSION_FILTERS: usize = 6;
/// Every session is opened with standard (not just-in-time) access.
const ACCESS_TYPE: &str = "Standard";
const FILTER_KEYS: &str =
    "[InvokedAfter, InvokedBefore, Target, Owner, Status, SessionId, AccessType]";

/// StartSession input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StartSessionRequest {
    target: Option<String>,
    document_name: Option<String>,
    parameters: Option<BTreeMap<String, Vec<String>>>,
    reason: Option<String>,
}

/// ResumeSession and TerminateSession input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SessionIdRequest {
    session_id: Option<String>,
}

/// StartSession and ResumeSession output; a session that is over has
/// neither token nor URL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SessionTokens {
    session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_url: Option<String>,
}

impl From<StartSessionOutput> for SessionTokens {
    fn from(output: StartSessionOutput) -> Self {
        Self {
            session_id: output.session_id,
            token_value: Some(output.token_value),
            stream_url: Some(output.stream_url),
        }
    }
}

impl From<ResumeSessionOutput> for SessionTokens {
    fn from(output: ResumeSessionOutput) -> Self {
        Self {
            session_id: output.session_id,
            token_value: output.token_value,
            stream_url: output.stream_url,
        }
    }
}

/// TerminateSession output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TerminateSessionResponse {
    session_id: String,
}

/// DescribeSessions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeSessionsRequest {
    state: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    filters: Option<Vec<SessionFilterWire>>,
}

/// A DescribeSessions filter as sent (this API spells its members in
/// lower case).
#[derive(Debug, Deserialize)]
pub(crate) struct SessionFilterWire {
    key: Option<String>,
    value: Option<String>,
}

/// DescribeSessions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeSessionsResponse {
    sessions: Vec<SessionWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// One session as DescribeSessions reports it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SessionWire {
    session_id: String,
    target: String,
    status: &'static str,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_date: Option<f64>,
    document_name: String,
    owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    output_url: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_session_duration: Option<String>,
    access_type: &'static str,
}

/// A parsed DescribeSessions filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionFilter {
    Target(String),
    Owner(String),
    Status(String),
    SessionId(String),
    AccessType(String),
    InvokedAfter(SystemTime),
    InvokedBefore(SystemTime),
}

impl SessionFilter {
    fn parse(index: usize, wire: SessionFilterWire) -> Result<Self, ApiError> {
        let member = |name: &str| format!("filters.{index}.member.{name}");
        let key = wire.key.ok_or_else(|| ApiError::missing(&member("key")))?;
        let value = wire
            .value
            .ok_or_else(|| ApiError::missing(&member("value")))?;
        if value.is_empty() || value.chars().count() > 400 {
            return Err(ApiError::constraint(
                &value,
                &member("value"),
                "have length between 1 and 400",
            ));
        }
        let time = |value: &str| {
            parse_timestamp(value).ok_or_else(|| {
                ApiError::constraint(value, &member("value"), "be an ISO 8601 timestamp")
            })
        };
        Ok(match key.as_str() {
            "Target" => Self::Target(value),
            "Owner" => Self::Owner(value),
            "Status" => Self::Status(value),
            "SessionId" => Self::SessionId(value),
            "AccessType" => Self::AccessType(value),
            "InvokedAfter" => Self::InvokedAfter(time(&value)?),
            "InvokedBefore" => Self::InvokedBefore(time(&value)?),
            _ => {
                let constraint = format!("satisfy enum value set: {FILTER_KEYS}");
                return Err(ApiError::constraint(&key, &member("key"), &constraint));
            }
        })
    }

    fn matches(&self, session: &SessionSummary) -> bool {
        match self {
            Self::Target(target) => &session.target == target,
            Self::Owner(owner) => &session.owner == owner,
            Self::Status(status) => session.status.as_str() == status,
            Self::SessionId(id) => &session.session_id == id,
            Self::AccessType(access) => access == ACCESS_TYPE,
            Self::InvokedAfter(after) => session.started_at >= *after,
            Self::InvokedBefore(before) => session.started_at <= *before,
        }
    }
}

/// StartSession: validates the shape, then starts the session.
pub(crate) fn start(
    service: &Service,
    request: StartSessionRequest,
) -> Result<SessionTokens, ApiError> {
    let target = request.target.ok_or_else(|| ApiError::missing("target"))?;
    check_length(&target, "target", 400)?;
    if let Some(reason) = &request.reason {
        check_length(reason, "reason", 256)?;
    }
    let input = StartSessionInput {
        target,
        document_name: request.document_name,
        parameters: request.parameters.unwrap_or_default(),
        reason: request.reason,
    };
    Ok(service.start_session(input)?.into())
}

/// ResumeSession: a fresh token, or none for a session that is over.
pub(crate) fn resume(
    service: &Service,
    request: SessionIdRequest,
) -> Result<SessionTokens, ApiError> {
    let session_id = required_session_id(request)?;
    Ok(service.resume_session(&session_id)?.into())
}

/// TerminateSession: always succeeds, like AWS.
pub(crate) fn terminate(
    service: &Service,
    request: SessionIdRequest,
) -> Result<TerminateSessionResponse, ApiError> {
    let session_id = required_session_id(request)?;
    service.terminate_session(&session_id);
    Ok(TerminateSessionResponse { session_id })
}

/// DescribeSessions: filtered, paginated Active or History sessions.
pub(crate) fn describe(
    service: &Service,
    request: DescribeSessionsRequest,
) -> Result<DescribeSessionsResponse, ApiError> {
    let active = parse_state(request.state)?;
    let page_size = page_size(request.max_results)?;
    let filters = parse_filters(request.filters.unwrap_or_default())?;
    let sessions: Vec<_> = service
        .describe_sessions(active)
        .into_iter()
        .filter(|session| filters.iter().all(|filter| filter.matches(session)))
        .collect();
    let Page { items, next_token } = fleet::paginate(
        sessions,
        page_key,
        "sessions",
        page_size,
        request.next_token.as_deref(),
    )?;
    let max_duration = service.config().realism.max_session_duration;
    Ok(DescribeSessionsResponse {
        sessions: items
            .iter()
            .map(|session| session_wire(session, max_duration))
            .collect(),
        next_token,
    })
}

fn required_session_id(request: SessionIdRequest) -> Result<String, ApiError> {
    let session_id = request
        .session_id
        .ok_or_else(|| ApiError::missing("sessionId"))?;
    check_length(&session_id, "sessionId", 96)?;
    Ok(session_id)
}

fn check_length(value: &str, member: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::constraint(
            value,
            member,
            &format!("have length between 1 and {max}"),
        ));
    }
    Ok(())
}

fn parse_state(state: Option<String>) -> Result<bool, ApiError> {
    match state.as_deref() {
        Some("Active") => Ok(true),
        Some("History") => Ok(false),
        Some(other) => Err(ApiError::constraint(
            other,
            "state",
            "satisfy enum value set: [Active, History]",
        )),
        None => Err(ApiError::missing("state")),
    }
}

fn page_size(max_results: Option<i64>) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(DEFAULT_SESSION_PAGE),
        Some(n) if n < 1 => Err(ApiError::constraint(
            n,
            "maxResults",
            "have value greater than or equal to 1",
        )),
        Some(n) if n > MAX_SESSION_PAGE => Err(ApiError::constraint(
            n,
            "maxResults",
            &format!("have value less than or equal to {MAX_SESSION_PAGE}"),
        )),
        Some(n) => usize::try_from(n).map_err(|_| ApiError::Internal("page size overflow".into())),
    }
}

fn parse_filters(wire: Vec<SessionFilterWire>) -> Result<Vec<SessionFilter>, ApiError> {
    if wire.len() > MAX_SESSION_FILTERS {
        return Err(ApiError::Validation(format!(
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_SESSION_FILTERS}"
        )));
    }
    wire.into_iter()
        .enumerate()
        .map(|(index, filter)| SessionFilter::parse(index + 1, filter))
        .collect()
}

/// Sorts like the registry (start time, then id) and is unique.
fn page_key(session: &SessionSummary) -> String {
    let nanos = session
        .started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("{nanos:020}/{}", session.session_id)
}

fn session_wire(session: &SessionSummary, max_duration: Option<Duration>) -> SessionWire {
    SessionWire {
        session_id: session.session_id.clone(),
        target: session.target.clone(),
        status: session.status.as_str(),
        start_date: epoch_seconds(session.started_at),
        end_date: session.ended_at.map(epoch_seconds),
        document_name: session.document_name.clone(),
        owner: session.owner.clone(),
        reason: session.reason.clone(),
        output_url: Map::new(),
        max_session_duration: max_duration.map(duration_minutes),
        access_type: ACCESS_TYPE,
    }
}

/// `MaxSessionDuration` is whole minutes, 1 to 1440, as a string.
fn duration_minutes(duration: Duration) -> String {
    duration.as_secs().div_ceil(60).clamp(1, 1440).to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::SimConfig;
    use crate::registry::{EndCause, Registry, SessionStatus};

    fn service() -> Service {
        Service::new(
            Arc::new(SimConfig::default()),
            Arc::new(Registry::default()),
            "ws://127.0.0.1:9".into(),
        )
    }

    fn start_shell(service: &Service) -> String {
        let request = StartSessionRequest {
            target: Some("i-0123456789abcdef0".into()),
            document_name: None,
            parameters: None,
            reason: None,
        };
        start(service, request).unwrap().session_id
    }

    #[tokio::test]
    async fn resume_of_an_ended_session_has_no_token_or_url() {
        let service = service();
        let session_id = start_shell(&service);
        let live = resume(
            &service,
            SessionIdRequest {
                session_id: Some(session_id.clone()),
            },
        )
        .unwrap();
        assert!(live.token_value.is_some() && live.stream_url.is_some());
        service.registry().mark_ended(
            &session_id,
            SessionStatus::Terminated,
            EndCause::TerminateApi,
        );
        let over = resume(
            &service,
            SessionIdRequest {
                session_id: Some(session_id.clone()),
            },
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&over).unwrap(),
            serde_json::json!({ "SessionId": session_id })
        );
    }

    #[tokio::test]
    async fn ended_sessions_move_to_history_with_an_end_date() {
        let service = service();
        let session_id = start_shell(&service);
        service.registry().mark_ended(
            &session_id,
            SessionStatus::Terminated,
            EndCause::TerminateApi,
        );
        let request = |state: &str| DescribeSessionsRequest {
            state: Some(state.into()),
            max_results: None,
            next_token: None,
            filters: None,
        };
        assert!(
            describe(&service, request("Active"))
                .unwrap()
                .sessions
                .is_empty()
        );
        let history = describe(&service, request("History")).unwrap();
        let json = serde_json::to_value(&history.sessions[0]).unwrap();
        assert_eq!(json["Status"], "Terminated");
        assert!(json["EndDate"].as_f64().unwrap() >= json["StartDate"].as_f64().unwrap());
    }

    #[test]
    fn filters_validate_keys_and_timestamps() {
        let wire = |key: &str, value: &str| SessionFilterWire {
            key: Some(key.into()),
            value: Some(value.into()),
        };
        assert!(SessionFilter::parse(1, wire("InvokedAfter", "2018-08-29T00:00:00Z")).is_ok());
        for (key, value) in [
            ("InvokedAfter", "yesterday"),
            ("Bogus", "x"),
            ("Target", ""),
        ] {
            let error = SessionFilter::parse(1, wire(key, value)).unwrap_err();
            assert_eq!(error.code(), "ValidationException", "{key}={value}");
        }
        let missing = SessionFilterWire {
            key: None,
            value: Some("x".into()),
        };
        assert_eq!(
            SessionFilter::parse(1, missing).unwrap_err().code(),
            "ValidationException"
        );
    }

    #[test]
    fn durations_are_whole_minutes_in_range() {
        assert_eq!(duration_minutes(Duration::from_secs(1)), "1");
        assert_eq!(duration_minutes(Duration::from_secs(3600)), "60");
        assert_eq!(duration_minutes(Duration::from_secs(61)), "2");
        assert_eq!(duration_minutes(Duration::from_secs(1_000_000)), "1440");
    }
}
