//! The byte stream under a [`crate::Client`]'s connection: plain TCP ([`Transport::Plain`])
//! or TLS over TCP ([`Transport::Tls`], futures-rustls over molotov-runtime's `TcpStream`), one type
//! so the exchange reads and writes without caring which, plus the idle check that decides
//! whether a kept-alive connection can carry the next request.
//!
//! TLS details handled here:
//! - writes go into rustls, which encrypts them and writes what the socket takes; the client
//!   calls `flush` after a request so no ciphertext stays behind in rustls' buffer;
//! - a server that closes without `close_notify` makes rustls report `UnexpectedEof`; it is
//!   read as an ordinary end of stream (Ok(0)), and HTTP framing decides whether the
//!   response was complete (only an until-close body cannot tell a truncation, as with any
//!   HTTP/1.1 client that accepts such servers);
//! - the idle check reads what the server sent while the connection was idle through rustls
//!   (TLS 1.3 session tickets and key updates are legitimate, `close_notify` and plaintext
//!   are not), without blocking.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::{AsyncRead, AsyncWrite};
use futures_rustls::client::TlsStream;
use molotov_runtime::net::TcpStream;

/// Most TLS records the idle check processes before it gives up on a connection.
const IDLE_CHECK_MAX_READS: usize = 8;

/// A connected stream, plain or TLS.
#[derive(Debug)]
pub(crate) enum Transport {
    /// `http`.
    Plain(TcpStream),
    /// `https` (boxed: the rustls state is a few KiB).
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// The TCP socket's descriptor.
    fn raw_fd(&self) -> RawFd {
        match self {
            Transport::Plain(stream) => stream.as_raw_fd(),
            Transport::Tls(stream) => stream.get_ref().0.as_raw_fd(),
        }
    }

    /// The rustls connection, for a TLS stream.
    pub(crate) fn tls(&self) -> Option<&rustls::ClientConnection> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(stream) => Some(stream.get_ref().1),
        }
    }

    /// When the bytes of the last read had arrived, at the latest, where the stream knows
    /// it without reading the clock (a plain stream read through a multishot receive);
    /// None where the read's own time is the bound (TLS: the bytes are decrypted in the
    /// read).
    pub(crate) fn last_read_arrived_by(&self) -> Option<Instant> {
        match self {
            Transport::Plain(stream) => stream.last_read_arrived_by(),
            Transport::Tls(_) => None,
        }
    }

    /// After a complete response: whether decrypted bytes nobody asked for are waiting in
    /// rustls (a plain stream's stray bytes are seen by the read that returned them).
    pub(crate) fn has_buffered_plaintext(&mut self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(stream) => match stream.get_mut().1.process_new_packets() {
                Ok(state) => state.plaintext_bytes_to_read() > 0 || state.peer_has_closed(),
                Err(_) => true,
            },
        }
    }

    /// Whether an idle keep-alive connection can carry a request: no EOF, no error, no
    /// stray bytes (and for TLS no `close_notify` and no stray plaintext). Never blocks.
    pub(crate) fn idle_is_clean(&mut self) -> bool {
        match self {
            Transport::Plain(stream) => stream.nothing_to_read(),
            Transport::Tls(stream) => {
                let (tcp, connection) = stream.get_mut();
                tls_idle_is_clean(tcp, connection)
            }
        }
    }
}

/// The TLS idle check: feed rustls whatever arrived (non-blocking reads of the socket) and
/// look at what it was. With a multishot receive in flight, `TcpStream::try_read` finds the
/// bytes in the receive's buffers, in completions posted and not yet read, or in the socket
/// (it enters the ring for the receive to take them); bytes it cannot get at once are an
/// error, and the connection is not reused.
fn tls_idle_is_clean(tcp: &mut TcpStream, connection: &mut rustls::ClientConnection) -> bool {
    let mut reader = NonBlockingStream(tcp);
    for _ in 0..IDLE_CHECK_MAX_READS {
        match connection.read_tls(&mut reader) {
            Ok(0) => return false,
            Ok(_) => match connection.process_new_packets() {
                Ok(state) if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() => {
                    return false;
                }
                // A session ticket or a key update: look for more.
                Ok(_) => {}
                Err(_) => return false,
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Nothing more on the socket: clean unless plaintext was already buffered.
                return match connection.process_new_packets() {
                    Ok(state) => state.plaintext_bytes_to_read() == 0 && !state.peer_has_closed(),
                    Err(_) => false,
                };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    false
}

/// `std::io::Read` over a stream's reads that never wait: `WouldBlock` when empty.
struct NonBlockingStream<'a>(&'a mut TcpStream);

impl io::Read for NonBlockingStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        self.raw_fd()
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Transport::Tls(stream) => match Pin::new(stream.as_mut()).poll_read(cx, buf) {
                // The server closed without close_notify: an end of stream for HTTP.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(0))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            // Unbuffered: nothing to flush.
            Transport::Plain(_) => Poll::Ready(Ok(())),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_close(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_close(cx),
        }
    }
}
