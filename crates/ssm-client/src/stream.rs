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

use crate::core::Core;
use crate::inner::{HandleGuard, Inner};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Mux(StreamId),
    Basic,
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
    key: u32,
    kind: Kind,
    closed: bool,
    _guard: Arc<HandleGuard>,
}

impl Stream {
    pub(crate) fn mux(inner: Arc<Inner>, sid: StreamId, guard: Arc<HandleGuard>) -> Self {
        Self {
            inner,
            key: sid.0,
            kind: Kind::Mux(sid),
            closed: false,
            _guard: guard,
        }
    }

    pub(crate) fn basic(inner: Arc<Inner>, key: u32, guard: Arc<HandleGuard>) -> Self {
        Self {
            inner,
            key,
            kind: Kind::Basic,
            closed: false,
            _guard: guard,
        }
    }

    /// The smux stream id (mux mode), for logs.
    pub fn id(&self) -> u32 {
        self.key
    }

    fn close_now(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut core = self.inner.lock();
        match self.kind {
            Kind::Mux(sid) => {
                if let Some(mux) = core.mux.as_mut() {
                    let _ = mux.close(sid);
                }
            }
            Kind::Basic => core.release_basic(self.key, Instant::now()),
        }
        core.streams.remove(&self.key);
        debug!(stream = self.key, "stream closed");
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
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        let mut core = this.inner.lock();
        let result = match this.kind {
            Kind::Mux(sid) => read_mux(&mut core, this.key, sid, cx, buf),
            Kind::Basic => read_basic(&mut core, this.key, cx, buf),
        };
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
        if this.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut core = this.inner.lock();
        if let Some(error) = stream_failure(&core, this.key) {
            return Poll::Ready(Err(error));
        }
        let written = match this.kind {
            Kind::Mux(sid) => match core.mux.as_mut().map(|mux| mux.write(sid, data)) {
                Some(Ok(n)) => n,
                Some(Err(error)) => return Poll::Ready(Err(error.into())),
                None => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            },
            Kind::Basic => write_basic(&mut core, data)?,
        };
        if written == 0 && !data.is_empty() {
            if let Some(slot) = core.streams.get_mut(&this.key) {
                slot.write_waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        drop(core);
        this.inner.notify.notify_one();
        Poll::Ready(Ok(written))
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

fn write_basic(core: &mut Core, data: &[u8]) -> io::Result<usize> {
    if core.session.channel().send_capacity() == 0 {
        return Ok(0);
    }
    let n = data.len().min(core.chunk_size);
    core.session
        .send_output(Instant::now(), Bytes::copy_from_slice(&data[..n]))
        .map_err(|error| io::Error::other(error.to_string()))?;
    Ok(n)
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.close_now();
    }
}
