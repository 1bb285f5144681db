//! Port-forwarding document properties (protocol.md §6.2, §7.4).

use serde_json::Value;

/// The properties of a `Port` session as the agent reports them in the
/// handshake. Values are strings on the wire; numbers are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortProperties {
    /// Destination port on the remote side.
    pub port_number: Option<String>,
    /// Local port the user asked for (`"0"` or absent: any free port).
    pub local_port_number: Option<String>,
    /// Remote host (RemoteHost document only).
    pub host: Option<String>,
    /// `"LocalPortForwarding"` for the port documents.
    pub port_type: Option<String>,
    /// `"unix"` to listen on a unix socket instead of TCP.
    pub local_connection_type: Option<String>,
    /// Unix socket path when `local_connection_type` is `"unix"`.
    pub local_unix_socket: Option<String>,
}

impl PortProperties {
    /// The `type` value that selects local port forwarding.
    pub const LOCAL_PORT_FORWARDING: &'static str = "LocalPortForwarding";

    /// Reads the known keys from a `Properties` object; anything else is ignored.
    pub fn from_value(properties: &Value) -> Self {
        let get = |key: &str| match properties.get(key) {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            _ => None,
        };
        Self {
            port_number: get("portNumber"),
            local_port_number: get("localPortNumber"),
            host: get("host"),
            port_type: get("type"),
            local_connection_type: get("localConnectionType"),
            local_unix_socket: get("localUnixSocket"),
        }
    }

    /// True when `type` is `LocalPortForwarding`.
    pub fn is_local_port_forwarding(&self) -> bool {
        self.port_type.as_deref() == Some(Self::LOCAL_PORT_FORWARDING)
    }

    /// The requested local port; `None` when absent, empty or unparsable,
    /// `Some(0)` for "any free port".
    pub fn local_port(&self) -> Option<u16> {
        self.local_port_number.as_deref()?.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_and_numbers() {
        let value = serde_json::json!({
            "portNumber": "8118", "localPortNumber": 0,
            "host": "privoxy", "type": "LocalPortForwarding", "extra": true
        });
        let props = PortProperties::from_value(&value);
        assert_eq!(props.port_number.as_deref(), Some("8118"));
        assert_eq!(props.local_port(), Some(0));
        assert_eq!(props.host.as_deref(), Some("privoxy"));
        assert!(props.is_local_port_forwarding());
        assert_eq!(
            PortProperties::from_value(&Value::Null),
            PortProperties::default()
        );
    }
}
