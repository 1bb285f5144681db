//! Before any session starts: resolve every forward's target (each
//! distinct one once) and bind its listener, so that a wrong target or a
//! busy port fails the command with its exit status first.

use std::sync::Arc;

use ssm_client::{AwsOptions, AwsSessionApi};
use tokio::net::TcpListener;

use super::plan::Planned;
use super::supervisor::{self, ForwardSpec};
use crate::aws_context::AwsContext;
use crate::errors::{ExitStatus, Fatal};
use crate::targets::{self, Rediscover, Resolved, TargetSelector};

/// A forward ready to run: its spec, bound listener and client.
#[derive(Debug)]
pub struct Prepared {
    /// What to forward, with the bound address.
    pub spec: ForwardSpec,
    /// The bound listener.
    pub listener: TcpListener,
    /// The SSM client.
    pub api: Arc<AwsSessionApi>,
    /// Chooses the target again (`None` for an instance id).
    pub retarget: Option<Arc<dyn supervisor::Retarget>>,
    /// `i-… → host:port`, for status lines.
    pub destination: String,
}

/// Resolves targets and binds listeners, in order.
pub async fn prepare(planned: Vec<Planned>) -> Result<Vec<Prepared>, Fatal> {
    let mut aws = AwsContext::default();
    let mut resolved: Vec<((AwsOptions, TargetSelector), Resolved)> = Vec::new();
    let mut prepared = Vec::new();
    for forward in planned {
        let api = aws.ssm(&forward.aws).await?;
        let key = (forward.aws.clone(), forward.target.clone());
        let target = match resolved.iter().find(|(k, _)| *k == key) {
            Some((_, target)) => target.clone(),
            None => {
                let target = targets::resolve(&api, &forward.target).await?;
                resolved.push((key, target.clone()));
                target
            }
        };
        let spec = ForwardSpec {
            name: forward.name.clone(),
            target: target.instance_id.clone(),
            remote_host: forward.remote_host.clone(),
            remote_port: forward.remote_port,
            bind: forward.bind,
            reason: forward.reason.clone(),
            max_connections: forward.max_connections,
            sessions: forward.sessions,
            proxy: forward.proxy.clone(),
        };
        let listener = bind(&spec).await?;
        let spec = ForwardSpec {
            bind: listener.local_addr().unwrap_or(spec.bind),
            ..spec
        };
        let destination = format!("{} → {}", spec.target, forward.remote());
        let retarget = (!matches!(forward.target, TargetSelector::Id(_))).then(|| {
            Arc::new(Rediscover {
                client: api.client().clone(),
                selector: forward.target.clone(),
            }) as Arc<dyn supervisor::Retarget>
        });
        prepared.push(Prepared {
            spec,
            listener,
            api,
            retarget,
            destination,
        });
    }
    Ok(prepared)
}

/// Binds a forward's listener; a busy port says what to do.
async fn bind(spec: &ForwardSpec) -> Result<TcpListener, Fatal> {
    supervisor::bind(spec).await.map_err(|error| {
        let address = spec.bind;
        let message = match error.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "{address} is already in use; pick another --local-port or stop the other program"
            ),
            std::io::ErrorKind::PermissionDenied => format!(
                "not allowed to listen on {address} (ports below 1024 need privileges); \
                 pick another --local-port"
            ),
            std::io::ErrorKind::AddrNotAvailable => format!(
                "cannot listen on {address}: this machine has no such address; check --bind"
            ),
            _ => format!("cannot listen on {address}: {error}"),
        };
        Fatal::new(ExitStatus::PortInUse, message)
    })
}
