//! Mux mode: an smux v1 server over the Output byte stream.
//!
//! Like the real agent, the smux session runs over an internal pipe whose
//! other end the agent copies to and from Output messages. The smux side
//! is the `async_smux` crate, independent of our client's `ssm-mux`, so a
//! bug shared by both implementations cannot hide. Each accepted stream
//! dials the destination; a failed dial sends ConnectToPortError, then
//! FIN. Data copying follows smux v1.5 semantics: when either direction
//! ends, both are closed.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use async_smux::{MuxBuilder, MuxStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, debug_span};

use super::port::{
    Destination, PortHandle, PortInput, PortOutput, PortSettings, port_queues, pump_to_agent,
};
use crate::hostile::{
    Hostile, SMUX_BAD_VERSION_FRAME, SMUX_UNKNOWN_COMMAND_FRAME, flood_psh_frame,
};
use crate::stats::SessionCounters;
use crate::targets;

/// Bytes buffered in the internal pipe each way.
const PIPE_CAPACITY: usize = 256 * 1024;
/// smux keep-alive interval and dead-peer timeout of the agent (seconds).
const KEEPALIVE_INTERVAL: u64 = 10;
const KEEPALIVE_TIMEOUT: u64 = 30;
/// smux v1 frame header length, and the NOP command.
const SMUX_HEADER: usize = 8;
const SMUX_CMD_NOP: u8 = 3;

/// Starts the mux plugin.
pub(crate) fn start(settings: PortSettings, keepalive: bool) -> PortHandle {
    let (input_tx, input_rx, output_tx, output_rx) = port_queues();
    let (hostile_tx, hostile_rx) = mpsc::unbounded_channel();
    let (agent_side, smux_side) = tokio::io::duplex(PIPE_CAPACITY);
    let (pipe_reader, pipe_writer) = tokio::io::split(agent_side);
    let mut builder = MuxBuilder::server();
    if keepalive {
        builder
            .with_keep_alive_interval(
                NonZeroU64::new(KEEPALIVE_INTERVAL).unwrap_or(NonZeroU64::MIN),
            )
            .with_keep_alive_timeout(NonZeroU64::new(KEEPALIVE_TIMEOUT).unwrap_or(NonZeroU64::MIN));
    }
    let (_connector, acceptor, worker) = builder.with_connection(smux_side).build();
    let settings = Arc::new(settings);
    let (newest_tx, newest_rx) = watch::channel(None);
    let (relayed_writer, relayed_reader) = tokio::io::duplex(PIPE_CAPACITY);
    // Short of a full interval, so that the NOP due at 10 s (async_smux
    // checks on 500 ms ticks) is not caught too.
    let quiet =
        keepalive.then(|| Duration::from_secs(KEEPALIVE_INTERVAL) - Duration::from_millis(250));
    let relay = OutputRelay {
        quiet,
        hostile: hostile_rx,
        newest_stream: newest_rx,
        counters: settings.counters.clone(),
    };
    let (chunk, pacing) = (settings.chunk_size, settings.pacing);
    let tasks = vec![
        tokio::spawn(async move {
            let _ = worker.await;
        }),
        tokio::spawn(accept_loop(
            acceptor,
            settings.clone(),
            output_tx.clone(),
            newest_tx,
        )),
        tokio::spawn(write_client_bytes(input_rx, pipe_writer)),
        tokio::spawn(relay.run(pipe_reader, relayed_writer)),
        tokio::spawn(pump_to_agent(relayed_reader, output_tx, chunk, pacing)),
    ];
    PortHandle {
        input: input_tx,
        output: output_rx,
        tasks,
        hostile: Some(hostile_tx),
    }
}

/// Carries the smux server's output to the agent, frame-aware, so that
/// it can
///
/// * drop the keep-alive NOPs written during the first `quiet` period:
///   async_smux's keep-alive timer fires at once, but the real agent's
///   (xtaci/smux `time.NewTicker`) first NOP comes one interval after the
///   session starts. The official plugin panics in its WebSocket reader
///   if any message arrives before its mux client exists (protocol.md §9
///   item 14), so an immediate NOP kills it;
/// * splice hostile frames (bad version, unknown command, a flood of
///   `PSH` frames) into the byte stream at frame boundaries, where a
///   client's smux parser sees them as whole frames.
struct OutputRelay {
    quiet: Option<Duration>,
    hostile: mpsc::UnboundedReceiver<Hostile>,
    newest_stream: watch::Receiver<Option<u32>>,
    counters: Arc<SessionCounters>,
}

/// A flood under way.
#[derive(Debug)]
struct Flood {
    sent: u64,
    total: u64,
}

impl OutputRelay {
    async fn run(mut self, mut from: ReadHalf<DuplexStream>, mut to: DuplexStream) {
        let mut quiet_until = self.quiet.map(|quiet| tokio::time::Instant::now() + quiet);
        let mut filter = FrameFilter::new(quiet_until.is_some());
        let mut flood: Option<Flood> = None;
        let mut buffer = vec![0u8; 16 * 1024];
        let mut out = Vec::new();
        loop {
            let boundary = filter.at_boundary();
            let stream = *self.newest_stream.borrow();
            let flooding = boundary && stream.is_some() && flood.is_some();
            let waiting_for_stream = flood.is_some() && stream.is_none();
            out.clear();
            tokio::select! {
                biased;
                // `read` is cancel-safe: nothing is lost when another branch wins.
                read = from.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(read) => filter.push(&buffer[..read], &mut out),
                },
                () = sleep_until_some(quiet_until) => {
                    quiet_until = None;
                    filter.stop_dropping(&mut out);
                }
                Some(kind) = self.hostile.recv(), if boundary && flood.is_none() => {
                    match kind {
                        Hostile::SmuxBadVersion => out.extend_from_slice(&SMUX_BAD_VERSION_FRAME),
                        Hostile::SmuxUnknownCommand => {
                            out.extend_from_slice(&SMUX_UNKNOWN_COMMAND_FRAME)
                        }
                        Hostile::Flood { bytes } => {
                            SessionCounters::add(&self.counters.hostile_flood_bytes, bytes);
                            flood = Some(Flood { sent: 0, total: bytes });
                        }
                        other => {
                            debug!(kind = %other, "not plugin output; ignored");
                            continue;
                        }
                    }
                    debug!(%kind, "hostile output");
                    SessionCounters::add(&self.counters.hostile_injections, 1);
                }
                changed = self.newest_stream.changed(), if waiting_for_stream => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = std::future::ready(()), if flooding => {
                    let Some(state) = flood.as_mut() else { continue };
                    let sid = stream.unwrap_or_default();
                    let left = usize::try_from(state.total - state.sent).unwrap_or(usize::MAX);
                    let frame = flood_psh_frame(sid, state.sent, left);
                    state.sent += (frame.len() - SMUX_HEADER) as u64;
                    if state.sent >= state.total {
                        debug!(sid, bytes = state.total, "hostile flood sent");
                        flood = None;
                    }
                    out = frame;
                }
            }
            if !out.is_empty() && to.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

/// Resolves at `at`, never when `None`.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Follows frame boundaries in an smux v1 byte stream and optionally
/// drops NOPs (then a partial header is held back until it is complete).
#[derive(Debug, Default)]
struct FrameFilter {
    header: Vec<u8>,
    body_left: usize,
    drop_nops: bool,
}

impl FrameFilter {
    fn new(drop_nops: bool) -> Self {
        Self {
            drop_nops,
            ..Self::default()
        }
    }

    /// Appends `input` (minus NOP frames while dropping them) to `out`.
    fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if !self.drop_nops {
            out.extend_from_slice(input);
        }
        while !input.is_empty() {
            if self.body_left > 0 {
                let take = self.body_left.min(input.len());
                if self.drop_nops {
                    out.extend_from_slice(&input[..take]);
                }
                self.body_left -= take;
                input = &input[take..];
                continue;
            }
            let take = (SMUX_HEADER - self.header.len()).min(input.len());
            self.header.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.header.len() == SMUX_HEADER {
                let length = usize::from(u16::from_le_bytes([self.header[2], self.header[3]]));
                let nop = self.header[1] == SMUX_CMD_NOP && length == 0;
                if self.drop_nops && !nop {
                    out.extend_from_slice(&self.header);
                }
                self.body_left = length;
                self.header.clear();
            }
        }
    }

    /// Stops dropping NOPs; a held partial header goes to `out`.
    fn stop_dropping(&mut self, out: &mut Vec<u8>) {
        if self.drop_nops {
            self.drop_nops = false;
            out.extend_from_slice(&self.header);
        }
    }

    /// Between frames: a whole frame may be spliced in here.
    fn at_boundary(&self) -> bool {
        self.header.is_empty() && self.body_left == 0
    }
}

async fn write_client_bytes(
    mut input: mpsc::Receiver<PortInput>,
    mut pipe: tokio::io::WriteHalf<DuplexStream>,
) {
    while let Some(item) = input.recv().await {
        if let PortInput::Data(bytes) = item
            && pipe.write_all(&bytes).await.is_err()
        {
            return;
        }
    }
}

async fn accept_loop(
    mut acceptor: async_smux::MuxAcceptor<DuplexStream>,
    settings: Arc<PortSettings>,
    output: mpsc::Sender<PortOutput>,
    newest: watch::Sender<Option<u32>>,
) {
    while let Some(stream) = acceptor.accept().await {
        let id = stream.get_stream_id();
        newest.send_replace(Some(id));
        let span = debug_span!("stream", id);
        let settings = settings.clone();
        let output = output.clone();
        tokio::spawn(serve_stream(stream, settings, output).instrument(span));
    }
    debug!("smux session ended");
}

async fn serve_stream(
    mut stream: MuxStream<DuplexStream>,
    settings: Arc<PortSettings>,
    output: mpsc::Sender<PortOutput>,
) {
    SessionCounters::add(&settings.counters.streams_opened, 1);
    let Destination { host, port } = &settings.destination;
    match targets::dial(&settings.policy, host, *port).await {
        Ok(mut upstream) => {
            debug!("connected to destination");
            // v1.5 semantics: whichever side ends first closes both.
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
            let _ = stream.shutdown().await;
        }
        Err(error) => {
            debug!(%error, "dial failed");
            SessionCounters::add(&settings.counters.dial_failures, 1);
            let _ = output.send(PortOutput::ConnectError).await;
            let _ = stream.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(cmd: u8, sid: u32, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![1, cmd];
        bytes.extend_from_slice(&(body.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&sid.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn early_nops_are_dropped_at_any_split() {
        let nop = frame(SMUX_CMD_NOP, 0, b"");
        let psh = frame(2, 3, &[3; 20]);
        let fin = frame(1, 3, b"");
        let stream = [nop.clone(), psh.clone(), nop, fin.clone()].concat();
        let expected = [psh, fin].concat();
        for split in 1..stream.len() {
            let mut filter = FrameFilter::new(true);
            let mut out = Vec::new();
            for piece in stream.chunks(split) {
                filter.push(piece, &mut out);
            }
            assert_eq!(out, expected, "split {split}");
            assert!(filter.at_boundary());
        }
    }

    #[test]
    fn boundaries_are_followed_when_passing_everything() {
        let psh = frame(2, 3, &[3; 20]);
        let nop = frame(SMUX_CMD_NOP, 0, b"");
        let stream = [psh.clone(), nop].concat();
        let mut filter = FrameFilter::new(false);
        let mut out = Vec::new();
        for (i, byte) in stream.iter().enumerate() {
            filter.push(std::slice::from_ref(byte), &mut out);
            let whole = i + 1 == psh.len() || i + 1 == stream.len();
            assert_eq!(filter.at_boundary(), whole, "after byte {i}");
        }
        assert_eq!(out, stream);
    }

    #[test]
    fn a_held_header_is_released_when_dropping_stops() {
        let psh = frame(2, 3, b"abc");
        let mut filter = FrameFilter::new(true);
        let mut out = Vec::new();
        filter.push(&psh[..5], &mut out);
        assert!(out.is_empty());
        filter.stop_dropping(&mut out);
        filter.push(&psh[5..], &mut out);
        assert_eq!(out, psh);
        assert!(filter.at_boundary());
    }

    struct RelayRig {
        smux_side: DuplexStream,
        relayed: DuplexStream,
        hostile: mpsc::UnboundedSender<Hostile>,
        newest: watch::Sender<Option<u32>>,
        counters: Arc<SessionCounters>,
        _writer: tokio::io::WriteHalf<DuplexStream>,
    }

    fn relay_rig(quiet: Option<Duration>) -> RelayRig {
        let (smux_side, agent_side) = tokio::io::duplex(1024);
        let (reader, writer) = tokio::io::split(agent_side);
        let (relayed_writer, relayed) = tokio::io::duplex(1024);
        let (hostile, hostile_rx) = mpsc::unbounded_channel();
        let (newest, newest_rx) = watch::channel(None);
        let counters = Arc::new(SessionCounters::default());
        let relay = OutputRelay {
            quiet,
            hostile: hostile_rx,
            newest_stream: newest_rx,
            counters: counters.clone(),
        };
        tokio::spawn(relay.run(reader, relayed_writer));
        RelayRig {
            smux_side,
            relayed,
            hostile,
            newest,
            counters,
            _writer: writer,
        }
    }

    #[tokio::test]
    async fn nops_pass_after_the_quiet_period() {
        let mut rig = relay_rig(Some(Duration::from_millis(200)));
        let nop = frame(SMUX_CMD_NOP, 0, b"");
        rig.smux_side.write_all(&nop).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        rig.smux_side.write_all(&nop).await.unwrap();
        drop(rig.smux_side);
        let mut out = Vec::new();
        rig.relayed.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, nop);
    }

    #[tokio::test]
    async fn hostile_frames_are_spliced_in_at_a_frame_boundary() {
        let mut rig = relay_rig(None);
        let psh = frame(2, 3, &[7; 40]);
        rig.smux_side.write_all(&psh[..20]).await.unwrap();
        let mut start = vec![0u8; 20];
        rig.relayed.read_exact(&mut start).await.unwrap();
        // Mid-frame: the bad frame must wait for the PSH to complete.
        rig.hostile.send(Hostile::SmuxBadVersion).unwrap();
        rig.hostile.send(Hostile::SmuxUnknownCommand).unwrap();
        tokio::task::yield_now().await;
        rig.smux_side.write_all(&psh[20..]).await.unwrap();
        let mut rest = vec![0u8; psh.len() - 20 + 16];
        rig.relayed.read_exact(&mut rest).await.unwrap();
        let expected = [
            &psh[..],
            &SMUX_BAD_VERSION_FRAME[..],
            &SMUX_UNKNOWN_COMMAND_FRAME[..],
        ]
        .concat();
        assert_eq!([start, rest].concat(), expected);
        assert_eq!(
            rig.counters
                .hostile_injections
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
    }

    #[tokio::test]
    async fn a_flood_waits_for_a_stream_then_sends_psh_frames() {
        use crate::hostile::{FLOOD_FRAME_LEN, flood_byte};
        let mut rig = relay_rig(None);
        let bytes = (FLOOD_FRAME_LEN * 2 + 100) as u64;
        rig.hostile.send(Hostile::Flood { bytes }).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut probe = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(50), rig.relayed.read(&mut probe));
        assert!(early.await.is_err(), "no stream yet: nothing sent");
        rig.newest.send_replace(Some(5));
        let mut received = Vec::new();
        let mut header = [0u8; SMUX_HEADER];
        while (received.len() as u64) < bytes {
            rig.relayed.read_exact(&mut header).await.unwrap();
            assert_eq!(header[..2], [1, 2], "a v1 PSH");
            assert_eq!(u32::from_le_bytes(header[4..8].try_into().unwrap()), 5);
            let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
            assert!(len <= FLOOD_FRAME_LEN);
            let mut body = vec![0u8; len];
            rig.relayed.read_exact(&mut body).await.unwrap();
            received.extend_from_slice(&body);
        }
        assert_eq!(received.len() as u64, bytes);
        assert!(received.iter().zip(0..).all(|(&b, i)| b == flood_byte(i)));
    }
}
