//! Send half: turns queued control frames and stream data into whole frames,
//! one stream at a time in round-robin order.

use bytes::{Buf, Bytes, BytesMut};
use tracing::trace;

use super::{Session, notify_writable, schedule_send};
use crate::frame::{Cmd, FrameHeader, HEADER_LEN};
use crate::stream::{StreamId, StreamState};

impl Session {
    /// The next frame to write to the transport, whole (header and payload),
    /// or `None` when nothing is queued or the session is dead.
    ///
    /// Order: a pending keepalive `NOP`, then `FIN`s refusing streams, then
    /// one frame per stream in round-robin order (its `SYN`, then `PSH`
    /// frames of at most [`Config::max_frame_size`](crate::Config::max_frame_size)
    /// bytes, then its `FIN` after `close`), so busy streams interleave fairly.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.dead.is_some() {
            return None;
        }
        let frame = match self.next_control_frame() {
            Some(frame) => frame,
            None => self.next_stream_frame()?,
        };
        self.stats.frames_out += 1;
        self.stats.bytes_out += frame.len() as u64;
        Some(frame)
    }

    /// A keepalive `NOP` or a `FIN` refusing a stream.
    fn next_control_frame(&mut self) -> Option<Bytes> {
        if self.nop_pending {
            self.nop_pending = false;
            trace!("nop sent");
            return Some(control_frame(Cmd::Nop, StreamId(0)));
        }
        let sid = self.refusals.pop_front()?;
        trace!(sid = sid.0, "fin sent, stream refused");
        Some(control_frame(Cmd::Fin, sid))
    }

    /// One frame of the stream at the head of the round-robin queue.
    fn next_stream_frame(&mut self) -> Option<Bytes> {
        let max_frame_size = self.config.max_frame_size;
        let capacity = self.config.max_stream_write_buffer;
        while let Some(sid) = self.send_queue.pop_front() {
            let Some(stream) = self.streams.get_mut(&sid) else {
                continue;
            };
            stream.in_send_queue = false;
            let Some(frame) = take_stream_frame(sid, stream, max_frame_size) else {
                continue;
            };
            if stream.write_blocked && stream.is_open() && stream.send.len() < capacity {
                stream.write_blocked = false;
                notify_writable(&mut self.events, sid, stream);
            }
            if stream.closed_locally && !stream.has_output() {
                self.streams.remove(&sid);
            } else {
                schedule_send(&mut self.send_queue, sid, stream);
            }
            return Some(frame);
        }
        None
    }
}

/// The stream's next frame in protocol order: `SYN`, data, `FIN`.
fn take_stream_frame(
    sid: StreamId,
    stream: &mut StreamState,
    max_frame_size: usize,
) -> Option<Bytes> {
    if stream.syn_pending {
        stream.syn_pending = false;
        trace!(sid = sid.0, "syn sent");
        return Some(control_frame(Cmd::Syn, sid));
    }
    if !stream.send.is_empty() {
        let len = stream.send.len().min(max_frame_size);
        let frame = data_frame(sid, &stream.send[..len]);
        stream.send.advance(len);
        trace!(sid = sid.0, len, "psh sent");
        return Some(frame);
    }
    if stream.fin_pending {
        stream.fin_pending = false;
        trace!(sid = sid.0, "fin sent");
        return Some(control_frame(Cmd::Fin, sid));
    }
    None
}

/// A `SYN`, `FIN` or `NOP` frame: header only, length 0.
fn control_frame(cmd: Cmd, sid: StreamId) -> Bytes {
    Bytes::copy_from_slice(&FrameHeader::new(cmd, sid, 0).to_bytes())
}

/// A `PSH` frame carrying `payload` (at most `u16::MAX` bytes, guaranteed by
/// the validated `max_frame_size`).
fn data_frame(sid: StreamId, payload: &[u8]) -> Bytes {
    let length = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut frame = BytesMut::with_capacity(HEADER_LEN + payload.len());
    FrameHeader::new(Cmd::Psh, sid, length).encode(&mut frame);
    frame.extend_from_slice(&payload[..usize::from(length)]);
    frame.freeze()
}
