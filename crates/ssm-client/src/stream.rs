//! A forwarded connection through the session: [`Stream`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use ssm_mux::{ReadOutcome, StreamError, StreamId};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::debug;

use crate::core::{Core, wake};
use crate::inner::{HandleGuard, Inner};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Mux(StreamId),
    Basic,
}

/// What a stream handle knows of itself; its operations work on the
/// locked [`Core`] (the sans-IO part of [`Stream`]).
#[derive(Debug)]
pub(crate) struct StreamHandle {
    key: u32,
    kind: Kind,
    closed: bool,
}

impl StreamHandle {
    pub(crate) fn mux(sid: StreamId) -> Self {
        Self {
            key: sid.0,
            kind: Kind::Mux(sid),
            closed: false,
        }
    }

    pub(crate) fn basic(key: u32) -> Self {
        Self {
            key,
            kind: Kind::Basic,
            closed: false,
        }
    }

    /// The smux stream id (mux mode) or the basic-mode key.
    pub(crate) fn key(&self) -> u32 {
        self.key
    }

    /// Closed by [`Self::close`].
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Reads into `buf`; `Ready(Ok)` with nothing filled is EOF.
    pub(crate) fn poll_read(
        &mut self,
        core: &mut Core,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        match self.kind {
            Kind::Mux(sid) => read_mux(core, self.key, sid, cx, buf),
            Kind::Basic => read_basic(core, self.key, cx, buf),
        }
    }

    /// Writes a prefix of `data`; `Pending` when nothing could be taken.
    pub(crate) fn poll_write(
        &mut self,
        core: &mut Core,
        cx: &mut Context<'_>,
        data: &[u8],
        now: Instant,
    ) -> Poll<io::Result<usize>> {
        if self.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if let Some(error) = stream_failure(core, self.key) {
            return Poll::Ready(Err(error));
        }
        let written = match self.kind {
            Kind::Mux(sid) => match core.mux.as_mut().map(|mux| mux.write(sid, data)) {
                Some(Ok(n)) => n,
                Some(Err(error)) => return Poll::Ready(Err(error.into())),
                None => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            },
            Kind::Basic => write_basic(core, data, now)?,
        };
        if written == 0 && !data.is_empty() {
            if let Some(slot) = core.streams.get_mut(&self.key) {
                slot.write_waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        Poll::Ready(Ok(written))
    }

    /// Closes the stream (smux `FIN`, or DisconnectToPort in basic mode);
    /// false if it was closed already.
    pub(crate) fn close(&mut self, core: &mut Core, now: Instant) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        match self.kind {
            Kind::Mux(sid) => {
                if let Some(mux) = core.mux.as_mut() {
                    let _ = mux.close(sid);
                }
            }
            Kind::Basic => core.release_basic(self.key, now),
        }
        // A task of the other half (e.g. after `tokio::io::split`) may wait
        // on it: it sees the stream closed now.
        if let Some(mut slot) = core.streams.remove(&self.key) {
            wake(&mut slot.read_waker);
            wake(&mut slot.write_waker);
        }
        debug!(stream = self.key, "stream closed");
        true
    }
}

/// One connection to the remote destination, multiplexed over the
/// session (mux mode) or owning the session's single raw connection
/// (basic mode, for old agents).
///
/// It is `AsyncRead + AsyncWrite`. Shutting down the write side or
/// dropping it closes the whole stream, as smux v1 does (it has no
/// half-close); in basic mode it also tells the agent to drop its
/// destination connection. A failed destination dial surfaces as a read
/// or write error of kind `ConnectionRefused`.
#[derive(Debug)]
pub struct Stream {
    inner: Arc<Inner>,
    handle: StreamHandle,
    _guard: Arc<HandleGuard>,
}

impl Stream {
    pub(crate) fn new(inner: Arc<Inner>, handle: StreamHandle, guard: Arc<HandleGuard>) -> Self {
        Self {
            inner,
            handle,
            _guard: guard,
        }
    }

    /// The smux stream id (mux mode), for logs.
    pub fn id(&self) -> u32 {
        self.handle.key()
    }

    fn close_now(&mut self) {
        if self.handle.is_closed() {
            return;
        }
        let mut core = self.inner.lock();
        self.handle.close(&mut core, Instant::now());
        drop(core);
        self.inner.notify.notify_one();
    }
}

fn stream_failure(core: &Core, key: u32) -> Option<io::Error> {
    if let Some(error) = core.streams.get(&key).and_then(|slot| slot.error.clone()) {
        return Some(error.into());
    }
    core.ended().map(|reason| reason.to_error().into())
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.handle.is_closed() {
            return Poll::Ready(Ok(()));
        }
        let mut core = this.inner.lock();
        let result = this.handle.poll_read(&mut core, cx, buf);
        drop(core);
        if matches!(result, Poll::Ready(Ok(()))) {
            this.inner.notify.notify_one();
        }
        result
    }
}

fn read_mux(
    core: &mut Core,
    key: u32,
    sid: StreamId,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if let Some(error) = core.streams.get(&key).and_then(|slot| slot.error.clone()) {
        return Poll::Ready(Err(error.into()));
    }
    let Some(mux) = core.mux.as_mut() else {
        return Poll::Ready(Err(
            stream_failure(core, key).unwrap_or_else(|| io::ErrorKind::NotConnected.into())
        ));
    };
    match mux.read(sid, buf.initialize_unfilled()) {
        Ok(ReadOutcome::Data(n)) => {
            buf.advance(n);
            Poll::Ready(Ok(()))
        }
        Ok(ReadOutcome::Eof) | Err(StreamError::UnknownStream(_)) => Poll::Ready(Ok(())),
        Ok(ReadOutcome::WouldBlock) => match stream_failure(core, key) {
            Some(error) => Poll::Ready(Err(error)),
            None => {
                if let Some(slot) = core.streams.get_mut(&key) {
                    slot.read_waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        },
        Err(error) => Poll::Ready(Err(
            stream_failure(core, key).unwrap_or_else(|| error.into())
        )),
    }
}

fn read_basic(
    core: &mut Core,
    key: u32,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    if core.basic.active != Some(key) {
        return Poll::Ready(Ok(()));
    }
    if let Some(front) = core.basic.inbox.front_mut() {
        let n = front.len().min(buf.remaining());
        buf.put_slice(&front[..n]);
        *front = front.slice(n..);
        if front.is_empty() {
            core.basic.inbox.pop_front();
        }
        core.basic.inbox_bytes -= n;
        return Poll::Ready(Ok(()));
    }
    if let Some(error) = stream_failure(core, key) {
        return Poll::Ready(Err(error));
    }
    if let Some(slot) = core.streams.get_mut(&key) {
        slot.read_waker = Some(cx.waker().clone());
    }
    Poll::Pending
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.handle.is_closed() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut core = this.inner.lock();
        let result = this.handle.poll_write(&mut core, cx, data, Instant::now());
        drop(core);
        if matches!(result, Poll::Ready(Ok(_))) {
            this.inner.notify.notify_one();
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are in the reliable pipeline already.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().close_now();
        Poll::Ready(Ok(()))
    }
}

fn write_basic(core: &mut Core, data: &[u8], now: Instant) -> io::Result<usize> {
    if core.session.channel().send_capacity() == 0 {
        return Ok(0);
    }
    let n = data.len().min(core.chunk_size);
    core.session
        .send_output(now, Bytes::copy_from_slice(&data[..n]))
        .map_err(|error| io::Error::other(error.to_string()))?;
    Ok(n)
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.close_now();
    }
}
