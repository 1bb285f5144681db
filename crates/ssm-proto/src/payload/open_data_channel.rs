//! The OpenDataChannel text frame (protocol.md §2.3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::PayloadError;

/// First WebSocket frame (text) a client sends; it authenticates the
/// socket with the session token.
///
/// `Debug` redacts the token: it must never reach a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OpenDataChannel {
    /// `"1.0"`.
    pub message_schema_version: String,
    /// Fresh v4 UUID per (re)connect.
    pub request_id: String,
    /// The session token from StartSession or ResumeSession.
    pub token_value: String,
    /// v4 UUID fixed for the life of the client.
    pub client_id: String,
    /// Our plugin-style version, e.g. `"1.2.677.0"`. Absent from old clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
}

impl OpenDataChannel {
    /// Schema version every client sends.
    pub const SCHEMA_VERSION: &'static str = "1.0";

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the text frame.
    pub fn from_json(text: &str) -> Result<Self, PayloadError> {
        super::from_json("OpenDataChannel", text.as_bytes())
    }
}

impl fmt::Debug for OpenDataChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenDataChannel")
            .field("message_schema_version", &self.message_schema_version)
            .field("request_id", &self.request_id)
            .field("token_value", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("client_version", &self.client_version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OpenDataChannel {
        OpenDataChannel {
            message_schema_version: "1.0".into(),
            request_id: "r".into(),
            token_value: "SECRET-TOKEN".into(),
            client_id: "c".into(),
            client_version: Some("1.2.677.0".into()),
        }
    }

    #[test]
    fn field_order_matches_plugin() {
        assert_eq!(
            sample().to_json(),
            r#"{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"SECRET-TOKEN","ClientId":"c","ClientVersion":"1.2.677.0"}"#
        );
    }

    #[test]
    fn debug_hides_token() {
        assert!(!format!("{:?}", sample()).contains("SECRET"));
    }

    #[test]
    fn old_clients_without_version_parse() {
        let parsed = OpenDataChannel::from_json(
            r#"{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c"}"#,
        )
        .unwrap();
        assert_eq!(parsed.client_version, None);
    }
}
