//! A forwarded connection through the session: [`Stream`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::core::StreamHandle;
use crate::inner::{HandleGuard, Inner};

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

    /// Whether the agent acknowledged anything sent on the session since
    /// this stream opened. While this is false, nothing of the stream is
    /// known to have reached the agent (nor, through it, the
    /// destination): if the session ends now, the same bytes can be sent
    /// again on another session without the destination seeing them
    /// twice. (An ack lost with a dying socket is the one exception.)
    pub fn reached_agent(&self) -> bool {
        self.inner.lock().stream_reached_agent(&self.handle)
    }

    fn close_now(&mut self) {
        if self.handle.is_closed() {
            return;
        }
        let mut core = self.inner.lock();
        core.close_stream(&mut self.handle, Instant::now());
        drop(core);
        self.inner.notify.notify_one();
    }
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
        let result = core.poll_read(&this.handle, cx, buf.initialize_unfilled());
        drop(core);
        match result {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                this.inner.notify.notify_one();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
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
        let result = core.poll_write(&this.handle, cx, data, Instant::now());
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

impl Drop for Stream {
    fn drop(&mut self) {
        self.close_now();
    }
}
