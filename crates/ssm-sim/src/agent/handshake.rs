//! The agent's side of the handshake (protocol.md §6).

use bytes::Bytes;
use serde_json::Value;
use ssm_proto::payload::{
    ActionStatus, ActionType, HandshakeComplete, HandshakeRequest, HandshakeResponse,
    RequestedClientAction, SessionTypeRequest,
};
use std::time::Duration;

/// How long the agent waits for the HandshakeResponse.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// The text the agent fails with when the client never answers.
pub(crate) const HANDSHAKE_TIMEOUT_TEXT: &str = "Handshake timed out. Please ensure that you have the latest version of the session manager plugin.";

/// The HandshakeRequest payload for a session.
pub(crate) fn request(agent_version: &str, session_type: &str, properties: &Value) -> Bytes {
    let parameters = SessionTypeRequest {
        session_type: session_type.to_owned(),
        properties: properties.clone(),
    };
    HandshakeRequest {
        agent_version: agent_version.to_owned(),
        requested_client_actions: vec![RequestedClientAction {
            action_type: ActionType::SessionType,
            action_parameters: serde_json::to_value(parameters).unwrap_or(Value::Null),
        }],
    }
    .to_bytes()
}

/// Checks a HandshakeResponse like the agent: every action must have
/// succeeded. Returns the client version or the failure text.
pub(crate) fn check_response(payload: &[u8]) -> Result<String, String> {
    let response = HandshakeResponse::from_bytes(payload).map_err(|error| error.to_string())?;
    for action in &response.processed_client_actions {
        if action.action_status != ActionStatus::Success {
            return Err(format!(
                "{} failed on client with status {} error: {}",
                action.action_type,
                i64::from(action.action_status),
                action.error
            ));
        }
    }
    Ok(response.client_version)
}

/// The HandshakeComplete payload.
pub(crate) fn complete(took: Duration) -> Bytes {
    HandshakeComplete {
        handshake_time_to_complete: i64::try_from(took.as_nanos()).unwrap_or(i64::MAX),
        customer_message: String::new(),
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_the_real_agent_layout() {
        let props = serde_json::json!({"localPortNumber": "0", "portNumber": "80", "type": "LocalPortForwarding"});
        let bytes = request("3.3.987.0", "Port", &props);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"AgentVersion":"3.3.987.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"localPortNumber":"0","portNumber":"80","type":"LocalPortForwarding"}}}]}"#
        );
    }

    #[test]
    fn any_failed_action_fails_the_handshake() {
        let ok = br#"{"ClientVersion":"1.2.677.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}"#;
        assert_eq!(check_response(ok), Ok("1.2.677.0".into()));
        let bad = br#"{"ClientVersion":"1","ProcessedClientActions":[{"ActionType":"KMSEncryption","ActionStatus":2,"Error":"no"}]}"#;
        assert!(check_response(bad).unwrap_err().contains("KMSEncryption"));
        assert!(check_response(b"nope").is_err());
    }
}
