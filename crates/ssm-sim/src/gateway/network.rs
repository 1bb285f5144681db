//! The client's network as the gateway sees it, switchable at run time to
//! model a laptop changing networks: every socket goes silent or is reset
//! at once, and new sockets fare the same until the network is restored.

use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::debug;

/// The state of the network between the client and the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Everything works.
    #[default]
    Up,
    /// Packets vanish: open sockets go silent (nothing read, sent or
    /// answered, TCP left open) and new connections are accepted but
    /// never answered. Sockets frozen stay dead after a restore, like
    /// NAT mappings lost with the old network: the client has to notice.
    Frozen,
    /// Every open socket is reset, and so is every new connection.
    Reset,
}

/// Shared switch read by the gateway for each new connection.
#[derive(Debug)]
pub struct NetworkGate {
    state: watch::Sender<Network>,
}

impl Default for NetworkGate {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(Network::Up),
        }
    }
}

impl NetworkGate {
    /// Switches the network; returns the previous state.
    pub fn set(&self, network: Network) -> Network {
        self.state.send_replace(network)
    }

    /// The current state.
    pub fn get(&self) -> Network {
        *self.state.borrow()
    }

    /// Lets a new connection through when the network is up. Otherwise
    /// it is reset at once (`Reset`), or held unanswered until the network
    /// changes and then dropped (`Frozen`: whatever it sent was lost).
    pub(super) async fn admit(&self, socket: TcpStream) -> Option<TcpStream> {
        let mut changes = self.state.subscribe();
        match *changes.borrow_and_update() {
            Network::Up => return Some(socket),
            Network::Reset => {
                debug!("network reset: refusing a new connection");
                let _ = socket.set_zero_linger();
                return None;
            }
            Network::Frozen => {}
        }
        debug!("network frozen: holding a new connection unanswered");
        let _ = changes.changed().await;
        let _ = socket.set_zero_linger();
        None
    }
}
