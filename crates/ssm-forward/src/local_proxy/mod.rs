//! `ssm-forward proxy`: a local HTTP and SOCKS5 proxy whose connections
//! reach any host the target instance can reach, through Session Manager
//! (AWS-StartPortForwardingSessionToRemoteHost), with nothing deployed
//! in the VPC or the cluster.
//!
//! One listener speaks both protocols, told apart by the first byte
//! ([`handshake`], over the sans-IO `ssm-proxy-handshake`). The allow and
//! deny rules decide before any session starts. Every destination
//! `host:port` gets its own small session pool ([`destinations`]): started
//! on first use, shared by every later connection to it (mux mode; one at
//! a time per session in basic mode), closed after an idle time; at most
//! `max_destinations` at once. Each connection then runs as
//! [`connection`] says: session, then a short wait to learn whether the
//! instance reached the destination (so a refusal is a `502` or SOCKS
//! `0x05`, not a dead tunnel), then the reply and the copy
//! ([`crate::serve::relay`]).
//!
//! Not done here: name resolution (the instance resolves names, so
//! private DNS works), authentication of local clients (only loopback
//! clients are served unless `--listen` names another address; then
//! `--allow-client` narrows who), UDP, SOCKS4, BIND.

pub mod config;
mod connection;
mod destinations;
mod handshake;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ssm_proxy_handshake::rules::{Rule, Rules};
use ssm_proxy_handshake::{Destination, Host};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{Instrument, info_span};

use crate::forwarding::supervisor::{
    EventSink, ForwardSpec, Service, connection_limit, listening, stopped,
};
use crate::serve;
use destinations::Destinations;

/// Default listen address of `ssm-forward proxy`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8118";
/// Default of `--max-destinations`.
pub const DEFAULT_MAX_DESTINATIONS: usize = 16;
/// Default of `--idle-close`: a destination's session with no connection
/// for this long is terminated.
pub const DEFAULT_IDLE_CLOSE: Duration = Duration::from_secs(300);

/// What makes a forward a proxy: its rules and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySpec {
    /// `--allow` / `--deny`.
    pub rules: Rules,
    /// `--allow-client`: who may use a proxy listening on a non-loopback
    /// address (empty: anyone who can reach it).
    pub clients: Vec<Rule>,
    /// Most destinations with a session at once.
    pub max_destinations: usize,
    /// A destination's sessions close after this long without a
    /// connection.
    pub idle_close: Duration,
}

impl Default for ProxySpec {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            clients: Vec::new(),
            max_destinations: DEFAULT_MAX_DESTINATIONS,
            idle_close: DEFAULT_IDLE_CLOSE,
        }
    }
}

impl ProxySpec {
    /// Whether a client at `peer` may use a proxy listening on `listen`:
    /// loopback clients always; others only when the proxy listens on a
    /// non-loopback address, and then only those `--allow-client` names
    /// (anyone, when it names none).
    pub fn client_allowed(&self, listen: IpAddr, peer: IpAddr) -> bool {
        if peer.is_loopback() || peer.to_canonical().is_loopback() {
            return true;
        }
        if listen.is_loopback() {
            return false;
        }
        let peer = Destination {
            host: Host::from(peer.to_canonical()),
            port: 1,
        };
        self.clients.is_empty() || self.clients.iter().any(|rule| rule.matches(&peer))
    }
}

/// What `ssm-forward status` and the status lines call a proxy's remote.
pub const REMOTE_LABEL: &str = "any allowed host (HTTP and SOCKS5 proxy)";

/// Runs a proxy until `shutdown` becomes true; on shutdown every
/// destination's sessions are terminated before returning.
pub async fn run(
    listener: TcpListener,
    spec: ForwardSpec,
    proxy: ProxySpec,
    service: Service,
    events: EventSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let spec = listening(&listener, spec, &events);
    let address = spec.bind;
    let span = info_span!("proxy", name = %spec.name);
    let live = service.live.clone();
    let destinations = Arc::new(Destinations::new(
        &spec,
        &proxy,
        service,
        events.clone(),
        shutdown.clone(),
    ));
    let sweeper = tokio::spawn(
        destinations
            .clone()
            .sweep(shutdown.clone())
            .instrument(span.clone()),
    );
    let context = Arc::new(connection::Context {
        name: spec.name.clone(),
        listen: address,
        proxy,
        destinations: destinations.clone(),
        events: events.clone(),
    });
    let limit = connection_limit(&spec, &events);
    let handle = |socket, peer: SocketAddr| {
        let open = live.connection();
        let served = connection::serve(socket, peer, context.clone())
            .instrument(info_span!(parent: &span, "conn", %peer));
        async move {
            served.await;
            drop(open);
        }
    };
    serve::accept_until(&listener, limit, handle, stopped(&mut shutdown)).await;
    drop(listener);
    destinations.close_all().await;
    let _ = sweeper.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(clients: &[&str]) -> ProxySpec {
        ProxySpec {
            clients: clients.iter().map(|c| Rule::parse(c).unwrap()).collect(),
            ..ProxySpec::default()
        }
    }

    #[test]
    fn only_loopback_clients_unless_the_listen_address_says_otherwise() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let docker: IpAddr = "172.17.0.2".parse().unwrap();
        let open = spec(&[]);
        assert!(open.client_allowed(loopback, loopback));
        assert!(open.client_allowed(loopback, "::1".parse().unwrap()));
        assert!(
            !open.client_allowed(loopback, lan),
            "a loopback listener serves only this machine"
        );
        assert!(
            open.client_allowed(any, lan),
            "--listen 0.0.0.0 without --allow-client: anyone"
        );
        let narrowed = spec(&["172.17.0.0/16"]);
        assert!(narrowed.client_allowed(any, docker));
        assert!(!narrowed.client_allowed(any, lan));
        assert!(narrowed.client_allowed(any, loopback));
        let mapped: IpAddr = "::ffff:172.17.0.2".parse().unwrap();
        assert!(
            narrowed.client_allowed("::".parse().unwrap(), mapped),
            "IPv4-mapped peers of a dual-stack listener"
        );
    }
}
