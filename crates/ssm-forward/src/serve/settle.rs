//! Has the destination been reached? Session Manager never says a dial
//! worked, only when it failed (ConnectToPortError, a read error of kind
//! `ConnectionRefused`). The agent dials when the stream's first message
//! reaches it and acknowledges that message on receipt, so: once the
//! agent acknowledged the stream and a short grace passed without a
//! refusal, the dial is taken as done. A destination that speaks first
//! settles it sooner.

use std::io;
use std::time::{Duration, Instant};

use ssm_client::{PoolStream, Stream};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// After the agent's acknowledgement: how long a refusal of the dial has
/// to arrive (a dial inside a VPC takes milliseconds).
pub const DIAL_GRACE: Duration = Duration::from_millis(100);
/// How often the wait looks at the acknowledgement.
const POLL: Duration = Duration::from_millis(5);

/// A stream that can say whether the agent has seen it.
pub trait Acknowledged {
    /// The agent acknowledged something sent since the stream opened.
    fn reached_agent(&self) -> bool;
}

impl Acknowledged for Stream {
    fn reached_agent(&self) -> bool {
        Self::reached_agent(self)
    }
}

impl Acknowledged for PoolStream {
    fn reached_agent(&self) -> bool {
        Self::reached_agent(self)
    }
}

/// What the wait found.
#[derive(Debug)]
pub enum Settled {
    /// The destination sent these bytes first (empty: it closed at once).
    Answered(Vec<u8>),
    /// The agent took the stream and reported no failed dial within
    /// [`DIAL_GRACE`] (or `limit` passed first).
    Quiet,
    /// The read failed: `ConnectionRefused` when the agent could not
    /// reach the destination.
    Failed(io::Error),
}

/// Waits (at most `limit`) until the destination is known to be reached
/// or not; see the module doc.
pub async fn settle<S>(stream: &mut S, limit: Duration) -> Settled
where
    S: AsyncRead + Acknowledged + Unpin,
{
    let started = Instant::now();
    let mut acknowledged: Option<Instant> = None;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => {
                return match read {
                    Ok(read) => {
                        buffer.truncate(read);
                        Settled::Answered(buffer)
                    }
                    Err(error) => Settled::Failed(error),
                };
            }
            () = tokio::time::sleep(POLL) => {}
        }
        if acknowledged.is_none() && stream.reached_agent() {
            acknowledged = Some(Instant::now());
        }
        let graced = acknowledged.is_some_and(|at| at.elapsed() >= DIAL_GRACE);
        if graced || started.elapsed() >= limit {
            return Settled::Quiet;
        }
    }
}
