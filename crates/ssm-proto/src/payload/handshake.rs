//! Handshake payloads (protocol.md §6.2).

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PayloadError;

/// An action name in a handshake (`"SessionType"`, `"KMSEncryption"`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ActionType {
    /// Tells the client which session plugin runs on the agent.
    SessionType,
    /// Asks the client to set up KMS encryption.
    KmsEncryption,
    /// Any other action.
    Other(String),
}

impl From<String> for ActionType {
    fn from(name: String) -> Self {
        match name.as_str() {
            "SessionType" => Self::SessionType,
            "KMSEncryption" => Self::KmsEncryption,
            _ => Self::Other(name),
        }
    }
}

impl From<ActionType> for String {
    fn from(action: ActionType) -> Self {
        action.to_string()
    }
}

impl fmt::Display for ActionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SessionType => f.write_str("SessionType"),
            Self::KmsEncryption => f.write_str("KMSEncryption"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

/// Outcome of one processed action: 1 success, 2 failed, 3 unsupported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum ActionStatus {
    /// 1: done.
    Success,
    /// 2: tried and failed.
    Failed,
    /// 3: this client does not know the action.
    Unsupported,
    /// Any other value (the agent treats it as failure).
    Other(i64),
}

impl From<i64> for ActionStatus {
    fn from(value: i64) -> Self {
        match value {
            1 => Self::Success,
            2 => Self::Failed,
            3 => Self::Unsupported,
            other => Self::Other(other),
        }
    }
}

impl From<ActionStatus> for i64 {
    fn from(status: ActionStatus) -> Self {
        match status {
            ActionStatus::Success => 1,
            ActionStatus::Failed => 2,
            ActionStatus::Unsupported => 3,
            ActionStatus::Other(value) => value,
        }
    }
}

/// One action the agent asks the client to perform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestedClientAction {
    /// Which action.
    pub action_type: ActionType,
    /// Action-specific parameters, see [`SessionTypeRequest`].
    #[serde(default)]
    pub action_parameters: Value,
}

/// The parameters of a `SessionType` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionTypeRequest {
    /// Agent plugin name: `Port`, `Standard_Stream`, …
    pub session_type: String,
    /// The document's properties after parameter substitution.
    #[serde(default)]
    pub properties: Value,
}

/// PayloadType 5, agent → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeRequest {
    /// The agent's version, e.g. `"3.3.987.0"`.
    #[serde(default)]
    pub agent_version: String,
    /// What the client must do.
    #[serde(default)]
    pub requested_client_actions: Vec<RequestedClientAction>,
}

impl HandshakeRequest {
    /// Compact JSON.
    pub fn to_bytes(&self) -> Bytes {
        super::to_json(self)
    }

    /// Parses a handshake request.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        super::from_json("HandshakeRequest", bytes)
    }
}

/// The client's answer to one requested action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessedClientAction {
    /// Echo of the requested action.
    pub action_type: ActionType,
    /// The outcome.
    pub action_status: ActionStatus,
    /// Action-specific result; `null` for SessionType.
    #[serde(default)]
    pub action_result: Value,
    /// Why it failed; empty on success.
    #[serde(default)]
    pub error: String,
}

/// PayloadType 6, client → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeResponse {
    /// Plugin-style version; selects mux mode and smux keepalive on the agent.
    pub client_version: String,
    /// One entry per requested action.
    #[serde(default)]
    pub processed_client_actions: Vec<ProcessedClientAction>,
    /// Handshake-level errors; `null` when there are none.
    #[serde(default)]
    pub errors: Option<Vec<String>>,
}

impl HandshakeResponse {
    /// Compact JSON.
    pub fn to_bytes(&self) -> Bytes {
        super::to_json(self)
    }

    /// Parses a handshake response.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        super::from_json("HandshakeResponse", bytes)
    }
}

/// PayloadType 7, agent → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HandshakeComplete {
    /// Handshake duration in nanoseconds.
    #[serde(default)]
    pub handshake_time_to_complete: i64,
    /// Text to show the user; empty for port sessions.
    #[serde(default)]
    pub customer_message: String,
}

impl HandshakeComplete {
    /// Compact JSON.
    pub fn to_bytes(&self) -> Bytes {
        super::to_json(self)
    }

    /// Parses a handshake completion.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        super::from_json("HandshakeComplete", bytes)
    }
}

/// PayloadTypes 8 and 9: a base64 KMS challenge. Port sessions never
/// use encryption; the type exists so such messages decode and can be
/// refused clearly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionChallenge {
    /// Standard base64 of the challenge bytes.
    pub challenge: String,
}

impl EncryptionChallenge {
    /// Compact JSON.
    pub fn to_bytes(&self) -> Bytes {
        super::to_json(self)
    }

    /// Parses a challenge.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        super::from_json("EncryptionChallenge", bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT_REQUEST: &str = r#"{"AgentVersion":"3.3.987.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"localPortNumber":"56789","portNumber":"80","type":"LocalPortForwarding"}}}]}"#;

    #[test]
    fn port_request_round_trips_exactly() {
        let request = HandshakeRequest::from_bytes(PORT_REQUEST.as_bytes()).unwrap();
        assert_eq!(request.agent_version, "3.3.987.0");
        assert_eq!(
            request.requested_client_actions[0].action_type,
            ActionType::SessionType
        );
        assert_eq!(&request.to_bytes()[..], PORT_REQUEST.as_bytes());
    }

    #[test]
    fn response_matches_plugin_bytes() {
        let response = HandshakeResponse {
            client_version: "1.2.677.0".into(),
            processed_client_actions: vec![ProcessedClientAction {
                action_type: ActionType::SessionType,
                action_status: ActionStatus::Success,
                action_result: Value::Null,
                error: String::new(),
            }],
            errors: None,
        };
        assert_eq!(
            &response.to_bytes()[..],
            br#"{"ClientVersion":"1.2.677.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}"#
        );
    }

    #[test]
    fn complete_and_challenge_parse() {
        let complete = HandshakeComplete::from_bytes(
            br#"{"HandshakeTimeToComplete":1500000,"CustomerMessage":""}"#,
        )
        .unwrap();
        assert_eq!(complete.handshake_time_to_complete, 1_500_000);
        let challenge = EncryptionChallenge::from_bytes(br#"{"Challenge":"AAEC"}"#).unwrap();
        assert_eq!(challenge.challenge, "AAEC");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            HandshakeRequest::from_bytes(b"{not json"),
            Err(PayloadError::InvalidJson { .. })
        ));
    }
}
