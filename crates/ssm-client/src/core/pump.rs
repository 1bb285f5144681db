//! Moving data between the protocol core, smux and the stream buffers.

use std::time::Instant;

use ssm_mux::Event as MuxEvent;
use ssm_proto::payload::Flag;
use ssm_proto::version::PortMode;
use tracing::{debug, warn};

use super::{Core, wake};
use crate::error::{EndCause, EndReason, Error};

/// Upload bytes pulled from smux ahead of the window, in chunks.
const UPLOAD_LOOKAHEAD_CHUNKS: usize = 8;

impl Core {
    /// Moves data between the protocol core, smux and the stream buffers,
    /// and wakes whoever can now make progress. Called after every input
    /// by [`Core::poll_transmit`].
    pub(super) fn pump(&mut self, now: Instant) {
        self.drain_session_events(now);
        match self.mode() {
            Some(PortMode::Mux { .. }) => {
                self.feed_mux(now);
                self.drain_mux_events();
                self.upload_mux(now);
                self.drain_mux_events();
            }
            Some(PortMode::Basic | PortMode::StandardStream) => self.pump_basic(now),
            None => {}
        }
    }

    // ===== mux =====

    fn feed_mux(&mut self, now: Instant) {
        let Some(mux) = self.mux.as_mut() else { return };
        loop {
            let bytes = match self.mux_backlog.take() {
                Some(bytes) => bytes,
                None => match self.session.poll_output(now) {
                    Some(bytes) => bytes,
                    None => return,
                },
            };
            match mux.handle_input(&bytes) {
                Ok(used) if used < bytes.len() => {
                    self.mux_backlog = Some(bytes.slice(used..));
                    return;
                }
                Ok(_) => {}
                Err(error) => {
                    debug!(%error, "smux session failed");
                    return;
                }
            }
        }
    }

    fn drain_mux_events(&mut self) {
        let Some(mux) = self.mux.as_mut() else { return };
        let mut dead = None;
        while let Some(event) = mux.poll_event() {
            match event {
                MuxEvent::StreamReadable(sid) => {
                    if let Some(slot) = self.streams.get_mut(&sid.0) {
                        slot.heard_back = true;
                        wake(&mut slot.read_waker);
                    }
                }
                MuxEvent::StreamWritable(sid) => {
                    if let Some(slot) = self.streams.get_mut(&sid.0) {
                        wake(&mut slot.write_waker);
                    }
                }
                MuxEvent::IncomingStream => {
                    while let Some(sid) = mux.accept() {
                        debug!(sid = sid.0, "refusing stream opened by the agent");
                        let _ = mux.close(sid);
                    }
                }
                MuxEvent::InputUnblocked => {}
                MuxEvent::SessionDead(error) => dead = Some(error),
                _ => {}
            }
        }
        if let Some(error) = dead {
            self.end(EndReason::Failed(Error::SessionEnded(EndCause::Smux(
                error,
            ))));
        }
    }

    fn upload_mux(&mut self, now: Instant) {
        let Some(mux) = self.mux.as_mut() else { return };
        while self.session.channel().send_capacity() > 0 {
            while self.upload.len() < self.chunk_size * UPLOAD_LOOKAHEAD_CHUNKS {
                let Some(frame) = mux.poll_transmit() else {
                    break;
                };
                self.upload.extend_from_slice(&frame);
            }
            if self.upload.is_empty() {
                return;
            }
            // A full chunk is queued at once; a partial one only when it
            // would go out now. Otherwise it waits and fills up (a burst of
            // new streams becomes a few full messages, not hundreds of tiny
            // ones queued behind the pacer).
            if self.upload.len() < self.chunk_size
                && !self.session.channel_mut().can_send_data_now(now)
            {
                return;
            }
            let take = self.chunk_size.min(self.upload.len());
            let chunk = self.upload.split_to(take).freeze();
            if let Err(error) = self.session.send_output(now, chunk) {
                warn!(%error, "could not queue output");
                return;
            }
        }
    }

    // ===== basic =====

    fn pump_basic(&mut self, now: Instant) {
        if self.basic.active.is_none() {
            return;
        }
        let mut woke = false;
        while self.basic.inbox_bytes < self.receive_caps.stream {
            let Some(bytes) = self.session.poll_output(now) else {
                break;
            };
            if bytes.is_empty() {
                // A reader would take an empty chunk for EOF.
                continue;
            }
            self.basic.inbox_bytes += bytes.len();
            self.basic.inbox.push_back(bytes);
            woke = true;
        }
        if let Some(slot) = self.basic.active.and_then(|key| self.streams.get_mut(&key)) {
            if woke {
                slot.heard_back = true;
                wake(&mut slot.read_waker);
            }
            if self.session.channel().send_capacity() > 0 {
                wake(&mut slot.write_waker);
            }
        }
    }

    /// Releases the basic-mode connection held by `key`, telling the agent.
    pub(super) fn release_basic(&mut self, key: u32, now: Instant) {
        if self.basic.active != Some(key) {
            return;
        }
        self.basic.active = None;
        self.basic.inbox.clear();
        self.basic.inbox_bytes = 0;
        if matches!(self.mode(), Some(PortMode::Basic))
            && let Err(error) = self.session.send_flag(now, Flag::DisconnectToPort)
        {
            debug!(%error, "could not send DisconnectToPort");
        }
        // Every waiting opener: one of them gets the connection, the rest
        // wait again. Waking only the first lost the connection to a task
        // that had stopped waiting (a dropped or already woken future).
        for opener in self.basic.openers.drain(..) {
            opener.wake();
        }
    }
}
