//! Per-session counters, readable while the session runs.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

macro_rules! counters {
    ($(#[doc = $doc:literal] $name:ident,)*) => {
        /// Live counters of one session, updated by the gateway and agent.
        #[derive(Debug, Default)]
        pub struct SessionCounters {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        /// A point-in-time copy of [`SessionCounters`].
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        pub struct SessionStats {
            $(#[doc = $doc] pub $name: u64,)*
        }

        impl SessionCounters {
            /// Copies every counter.
            pub fn snapshot(&self) -> SessionStats {
                SessionStats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// WebSocket connections the client made (first one included).
    connections,
    /// Client stream-data messages received (duplicates included).
    client_messages,
    /// Client Output payload bytes accepted in order.
    client_bytes,
    /// Client acks received.
    client_acks,
    /// Duplicate client stream messages (re-acked).
    client_duplicates,
    /// Agent stream-data messages sent for the first time.
    agent_messages,
    /// Agent Output payload bytes sent.
    agent_bytes,
    /// Agent stream messages resent.
    agent_retransmits,
    /// Acks the agent sent.
    agent_acks,
    /// Messages the fault injector dropped.
    faults_dropped,
    /// Messages the fault injector duplicated.
    faults_duplicated,
    /// Messages the fault injector reordered.
    faults_reordered,
    /// Messages whose digest the fault injector corrupted.
    faults_corrupted,
    /// pause_publication notices sent to the client.
    pauses_sent,
    /// Sockets closed by recycling (close 1000 "Bye").
    recycles,
    /// Sockets closed for exceeding the message-rate limit.
    rate_limit_closes,
    /// Sockets closed abruptly by fault injection.
    abrupt_closes,
    /// Sockets dropped because nothing came from the client (a ping included) for the ping timeout.
    ping_timeouts,
    /// smux streams (mux) or destination connections (basic) opened.
    streams_opened,
    /// Destination dials that failed.
    dial_failures,
    /// TerminateSession flags received from the client.
    terminate_flags,
    /// DisconnectToPort flags received from the client.
    disconnect_flags,
    /// Client data acked and discarded because it came before HandshakeComplete.
    early_data_discarded,
    /// Client data refused (not acked) while the port plugin started.
    not_ready_refusals,
    /// A gauge: Unix ms when the agent's oldest unacked message was first sent (0: none); seconds old means the client lacks it and waits for the front-only resend.
    agent_oldest_unacked_unix_ms,
    /// Hostile behaviours carried out (frames sent, messages queued, floods started).
    hostile_injections,
    /// Stream bytes of the hostile floods begun.
    hostile_flood_bytes,
    /// Client acks the agent ignored: they came in the send-before-buffer race.
    race_lost_acks,
    /// Agent frames dropped by the gateway while no client socket was attached.
    detached_dropped,
}

impl SessionCounters {
    /// Adds `amount` to a counter.
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }
}

impl SessionStats {
    /// Client reconnections: connections after the first.
    pub fn reconnects(&self) -> u64 {
        self.connections.saturating_sub(1)
    }
}
