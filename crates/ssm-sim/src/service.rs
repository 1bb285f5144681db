//! The SSM session operations, independent of HTTP: StartSession,
//! ResumeSession, TerminateSession, DescribeSessions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::mpsc;

use crate::agent::{self, AgentSpec};
use crate::config::{InstanceConfig, SimConfig};
use crate::messages::AgentInput;
use crate::registry::{EndCause, Registry, SessionRecord, SessionStatus, SessionSummary};
use crate::sso::Sso;
use crate::stats::SessionCounters;

/// Document for port forwarding to a port on the target itself.
pub const PORT_DOCUMENT: &str = "AWS-StartPortForwardingSession";
/// Document for port forwarding to a host reachable from the target.
pub const REMOTE_HOST_DOCUMENT: &str = "AWS-StartPortForwardingSessionToRemoteHost";
/// Shell session document (also used when no document is given).
pub const SHELL_DOCUMENT: &str = "SSM-SessionManagerRunShell";

/// An API failure, with the AWS error code it is reported as.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceError {
    /// The target is unknown or its agent is not connected.
    #[error("{0} is not connected.")]
    TargetNotConnected(String),
    /// The document does not exist.
    #[error("Document with name {0} does not exist.")]
    InvalidDocument(String),
    /// A parameter is missing, unknown or malformed.
    #[error("{0}")]
    InvalidParameters(String),
    /// The request is malformed.
    #[error("{0}")]
    Validation(String),
    /// No such session.
    #[error("Session {0} does not exist.")]
    DoesNotExist(String),
    /// The caller's IAM policy does not allow this StartSession (the
    /// message names the action and resource, as AWS's does).
    #[error("{0}")]
    AccessDenied(String),
}

impl ServiceError {
    /// The `__type` code AWS uses for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TargetNotConnected(_) => "TargetNotConnected",
            Self::InvalidDocument(_) => "InvalidDocument",
            Self::InvalidParameters(_) => "InvalidParameters",
            Self::Validation(_) => "ValidationException",
            Self::DoesNotExist(_) => "DoesNotExistException",
            Self::AccessDenied(_) => "AccessDeniedException",
        }
    }
}

/// StartSession input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartSessionInput {
    /// Instance id.
    pub target: String,
    /// Document name; `None` means a shell session.
    pub document_name: Option<String>,
    /// Document parameters.
    pub parameters: BTreeMap<String, Vec<String>>,
    /// Free-text reason.
    pub reason: Option<String>,
}

/// StartSession output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartSessionOutput {
    /// New session id.
    pub session_id: String,
    /// Token for the first OpenDataChannel.
    pub token_value: String,
    /// WebSocket URL of the data channel.
    pub stream_url: String,
}

/// ResumeSession output: no token means the session is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeSessionOutput {
    /// The session id.
    pub session_id: String,
    /// A fresh token, or `None` for a dead session.
    pub token_value: Option<String>,
    /// The stream URL, repeated.
    pub stream_url: Option<String>,
}

/// The session operations over a shared registry.
#[derive(Debug, Clone)]
pub struct Service {
    config: Arc<SimConfig>,
    /// Instances taken offline at run time (their `PingStatus` reads
    /// `ConnectionLost`).
    lost: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    registry: Arc<Registry>,
    gateway_url: String,
    /// The simulated IAM Identity Center.
    sso: Sso,
}

impl Service {
    /// A service whose stream URLs point at `gateway_url` (`ws://host:port`).
    pub fn new(config: Arc<SimConfig>, registry: Arc<Registry>, gateway_url: String) -> Self {
        Self {
            sso: Sso::new(config.sso.clone()),
            config,
            lost: Arc::default(),
            registry,
            gateway_url,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The simulated IAM Identity Center: its state and test hooks.
    pub fn sso(&self) -> &Sso {
        &self.sso
    }

    /// The session table.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The managed instances as they stand now (run-time losses applied).
    pub fn instances(&self) -> Vec<InstanceConfig> {
        self.config
            .instances
            .iter()
            .map(|instance| self.current(instance))
            .collect()
    }

    /// `instance` with its run-time connection state.
    fn current(&self, instance: &InstanceConfig) -> InstanceConfig {
        let mut instance = instance.clone();
        if self.lost_ids().contains(&instance.id) {
            instance.ping_status = "ConnectionLost".into();
        }
        instance
    }

    fn lost_ids(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.lost
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes an instance offline (its live sessions fail, StartSession
    /// answers TargetNotConnected, DescribeInstanceInformation says
    /// `ConnectionLost`) or back online. False for an unknown id.
    pub fn set_instance_online(&self, instance_id: &str, online: bool) -> bool {
        if self.config.instance(instance_id).is_none() {
            return false;
        }
        if online {
            self.lost_ids().remove(instance_id);
            return true;
        }
        self.lost_ids().insert(instance_id.to_owned());
        for summary in self.registry.summaries() {
            if summary.target == instance_id && !summary.status.is_over() {
                self.registry.with(&summary.session_id, |record| {
                    let _ = record.agent.send(AgentInput::Lost);
                });
            }
        }
        tracing::info!(instance_id, "instance lost its connection");
        true
    }

    /// Refuses a remote-host session to a host of
    /// `destinations.iam_denied_hosts`, as an IAM condition on the
    /// document's `host` parameter would.
    fn check_iam_hosts(&self, input: &StartSessionInput) -> Result<(), ServiceError> {
        let host = input.parameters.get("host").and_then(|hosts| hosts.first());
        let Some(host) = host else {
            return Ok(());
        };
        if !self.config.destinations.iam_denied_hosts.contains(host) {
            return Ok(());
        }
        Err(ServiceError::AccessDenied(format!(
            "User: arn:aws:iam::123456789012:user/sim is not authorized to perform: \
             ssm:StartSession on resource: arn:aws:ssm:{}::document/{REMOTE_HOST_DOCUMENT} \
             because no identity-based policy allows the ssm:StartSession action",
            self.config.region
        )))
    }

    /// Starts a session and its agent.
    pub fn start_session(
        &self,
        input: StartSessionInput,
    ) -> Result<StartSessionOutput, ServiceError> {
        let instance = self
            .config
            .instance(&input.target)
            .map(|instance| self.current(instance))
            .filter(InstanceConfig::is_online)
            .ok_or_else(|| ServiceError::TargetNotConnected(input.target.clone()))?;
        let document_name = input
            .document_name
            .clone()
            .unwrap_or_else(|| SHELL_DOCUMENT.to_owned());
        let (session_type, properties) = resolve_document(&document_name, &input.parameters)?;
        self.check_iam_hosts(&input)?;
        let session_id = format!("sim-{}", &uuid::Uuid::new_v4().simple().to_string()[..17]);
        let token = new_token();
        let stream_url = self.stream_url(&session_id);
        let counters = Arc::new(SessionCounters::default());
        let (agent_tx, agent_rx) = mpsc::unbounded_channel();
        self.registry.insert(SessionRecord {
            session_id: session_id.clone(),
            target: instance.id.clone(),
            document_name,
            parameters: input.parameters,
            reason: input.reason,
            owner: "arn:aws:iam::123456789012:user/ssm-sim".into(),
            status: SessionStatus::Connected,
            end_cause: None,
            started_at: SystemTime::now(),
            ended_at: None,
            unused_tokens: vec![token.clone()],
            issued_tokens: vec![token.clone()],
            counters: counters.clone(),
            agent: agent_tx,
        });
        agent::spawn(AgentSpec {
            session_id: session_id.clone(),
            instance,
            session_type,
            properties,
            config: self.config.clone(),
            registry: self.registry.clone(),
            counters,
            inputs: agent_rx,
        });
        tracing::info!(%session_id, target = %input.target, "session started");
        Ok(StartSessionOutput {
            session_id,
            token_value: token,
            stream_url,
        })
    }

    /// Issues a fresh token for a live session; none for an ended one.
    pub fn resume_session(&self, session_id: &str) -> Result<ResumeSessionOutput, ServiceError> {
        let token = self
            .registry
            .with(session_id, |record| {
                if record.status.is_over() {
                    return None;
                }
                let token = new_token();
                record.unused_tokens.push(token.clone());
                record.issued_tokens.push(token.clone());
                Some(token)
            })
            .ok_or_else(|| ServiceError::DoesNotExist(session_id.to_owned()))?;
        Ok(ResumeSessionOutput {
            session_id: session_id.to_owned(),
            stream_url: token.as_ref().map(|_| self.stream_url(session_id)),
            token_value: token,
        })
    }

    /// Ends a session (idempotent; unknown ids succeed like AWS does).
    pub fn terminate_session(&self, session_id: &str) {
        // Like AWS, the session reads as Terminating as soon as the call
        // returns; the agent task finishes the ending on its own time.
        let agent = self.registry.with(session_id, |record| {
            if record.status == SessionStatus::Connected {
                record.status = SessionStatus::Terminating;
            }
            record.agent.clone()
        });
        if let Some(agent) = agent {
            // The agent may already be gone; then the session is over anyway.
            let _ = agent.send(AgentInput::Terminate(EndCause::TerminateApi));
        }
    }

    /// Sessions that are live (`active`) or over (`!active`).
    pub fn describe_sessions(&self, active: bool) -> Vec<SessionSummary> {
        self.registry
            .summaries()
            .into_iter()
            .filter(|summary| summary.status.is_over() != active)
            .collect()
    }

    fn stream_url(&self, session_id: &str) -> String {
        // The cell-number blob holds '+', '/' and '=' like the real one,
        // so clients that re-encode the URL fail here as they would in AWS.
        format!(
            "{}/v1/data-channel/{session_id}?role=publish_subscribe&cell-number=AAEAAbd+xUf3q/Rk1AsimQ==",
            self.gateway_url
        )
    }
}

fn new_token() -> String {
    format!(
        "AAEAA{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The agent plugin and handshake properties a document produces.
fn resolve_document(
    name: &str,
    parameters: &BTreeMap<String, Vec<String>>,
) -> Result<(String, Value), ServiceError> {
    let allowed: &[&str] = match name {
        PORT_DOCUMENT => &["portNumber", "localPortNumber"],
        REMOTE_HOST_DOCUMENT => &["host", "portNumber", "localPortNumber"],
        SHELL_DOCUMENT => &[],
        other => return Err(ServiceError::InvalidDocument(other.to_owned())),
    };
    for key in parameters.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(ServiceError::InvalidParameters(format!(
                "Parameter \"{key}\" is not defined in document {name}."
            )));
        }
    }
    if name == SHELL_DOCUMENT {
        return Ok(("Standard_Stream".into(), json!({})));
    }
    let single = |key: &str, default: &str| -> Result<String, ServiceError> {
        match parameters.get(key).map(Vec::as_slice) {
            None | Some([]) => Ok(default.to_owned()),
            Some([value]) => Ok(value.clone()),
            Some(_) => Err(ServiceError::InvalidParameters(format!(
                "Parameter \"{key}\" takes one value."
            ))),
        }
    };
    let port = single("portNumber", "80")?;
    let local_port = single("localPortNumber", "0")?;
    check_port("portNumber", &port, 1)?;
    check_port("localPortNumber", &local_port, 0)?;
    // Keys in Go's sorted map order, as the agent sends them.
    let mut properties = serde_json::Map::new();
    if name == REMOTE_HOST_DOCUMENT {
        let host = single("host", "")?;
        if host.is_empty() {
            return Err(ServiceError::InvalidParameters(
                "Parameter \"host\" is required.".into(),
            ));
        }
        properties.insert("host".into(), host.into());
    }
    properties.insert("localPortNumber".into(), local_port.into());
    properties.insert("portNumber".into(), port.into());
    properties.insert("type".into(), "LocalPortForwarding".into());
    Ok(("Port".into(), Value::Object(properties)))
}

fn check_port(key: &str, value: &str, min: u32) -> Result<(), ServiceError> {
    match value.parse::<u32>() {
        Ok(port)
            if (min..=65535).contains(&port) && !value.starts_with('0')
                || value == "0" && min == 0 =>
        {
            Ok(())
        }
        _ => Err(ServiceError::InvalidParameters(format!(
            "Parameter \"{key}\" \"{value}\" failed to satisfy constraint: port number {min}-65535."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), vec![(*v).into()]))
            .collect()
    }

    #[test]
    fn remote_host_properties_are_sorted_like_go() {
        let (kind, props) = resolve_document(
            REMOTE_HOST_DOCUMENT,
            &params(&[
                ("host", "db"),
                ("portNumber", "5432"),
                ("localPortNumber", "15432"),
            ]),
        )
        .unwrap();
        assert_eq!(kind, "Port");
        assert_eq!(
            props.to_string(),
            r#"{"host":"db","localPortNumber":"15432","portNumber":"5432","type":"LocalPortForwarding"}"#
        );
    }

    #[test]
    fn rejects_bad_documents_and_parameters() {
        assert!(matches!(
            resolve_document("Nope", &params(&[])),
            Err(ServiceError::InvalidDocument(_))
        ));
        assert!(matches!(
            resolve_document(PORT_DOCUMENT, &params(&[("bogus", "1")])),
            Err(ServiceError::InvalidParameters(_))
        ));
        assert!(matches!(
            resolve_document(PORT_DOCUMENT, &params(&[("portNumber", "70000")])),
            Err(ServiceError::InvalidParameters(_))
        ));
        assert!(matches!(
            resolve_document(REMOTE_HOST_DOCUMENT, &params(&[("portNumber", "80")])),
            Err(ServiceError::InvalidParameters(_))
        ));
        assert!(resolve_document(PORT_DOCUMENT, &params(&[("localPortNumber", "0")])).is_ok());
    }
}
