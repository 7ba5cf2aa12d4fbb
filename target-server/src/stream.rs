//! An accepted connection's byte stream: plain TCP or TLS over TCP (futures-rustls over
//! glommio's `TcpStream`), one type for the connection loop and the misbehaviours.
//!
//! Writes go through [`ServerStream::send_all`], which for TLS also flushes what rustls
//! holds, so "the last byte was handed to the kernel" (when a reply is counted) holds for
//! TLS too. [`ServerStream::close_notify`] ends a TLS connection politely (a plain one is
//! just dropped).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use futures_rustls::server::TlsStream;
use glommio::net::TcpStream;

/// A connection's stream.
#[derive(Debug)]
pub(crate) enum ServerStream {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS (boxed: the rustls state is a few KiB).
    Tls(Box<TlsStream<TcpStream>>),
}

impl ServerStream {
    /// Writes all of `bytes` and, for TLS, pushes the encrypted records to the socket.
    pub(crate) async fn send_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes).await?;
        if let ServerStream::Tls(stream) = self {
            stream.flush().await?;
        }
        Ok(())
    }

    /// For TLS: sends `close_notify` (best effort). Plain: nothing.
    pub(crate) async fn close_notify(&mut self) {
        if let ServerStream::Tls(stream) = self {
            let _ = stream.close().await;
        }
    }
}

impl AsRawFd for ServerStream {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            ServerStream::Plain(stream) => stream.as_raw_fd(),
            ServerStream::Tls(stream) => stream.get_ref().0.as_raw_fd(),
        }
    }
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            ServerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            ServerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            ServerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(stream) => Pin::new(stream).poll_close(cx),
            ServerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_close(cx),
        }
    }
}
