//! The client's errors: [`Error`], one value per failure with the detail that explains it,
//! and [`ErrorKind`], the small `Copy` classification the engine counts by.
//!
//! Every failure of a request is one of these values; nothing in this crate panics on bad
//! input from a server or a caller. `ErrorKind` has a dense, stable [`ErrorKind::index`] so a
//! counter array of [`ErrorKind::COUNT`] entries can be indexed without a map; new kinds
//! (TLS, later) are appended at the end, which keeps every existing index.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Where in a request's life an I/O failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// While writing the request.
    Write,
    /// While reading the response.
    Read,
}

impl Phase {
    /// A lowercase word for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Write => "writing the request",
            Phase::Read => "reading the response",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed request (or URL/request construction), with what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server actively refused the TCP connection (`ECONNREFUSED`).
    #[error("connection to {addr} refused")]
    ConnectRefused {
        /// The address that refused.
        addr: SocketAddr,
    },
    /// The TCP handshake did not finish within `ClientConfig::connect_timeout`.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The address being connected to.
        addr: SocketAddr,
        /// The connect timeout in force.
        timeout: Duration,
    },
    /// Any other connect failure (network unreachable, no route, address not available...).
    #[error("connecting to {addr} failed: {source}")]
    ConnectFailed {
        /// The address being connected to.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The host name did not resolve to any address.
    #[error("cannot resolve host {host:?}: {reason}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The per-request deadline (covering connect, write and read) passed.
    #[error("request timed out after {0:?}")]
    RequestTimeout(Duration),
    /// The connection was reset (`ECONNRESET`, or `EPIPE` on write).
    #[error("connection reset by peer while {during}")]
    Reset {
        /// Writing or reading.
        during: Phase,
    },
    /// The server closed the connection before a complete response arrived.
    #[error("connection closed before a complete response ({received} response bytes received)")]
    ClosedEarly {
        /// Response bytes received before the close (0: nothing at all).
        received: u64,
    },
    /// The server's bytes are not a valid HTTP/1.x response; the message says what was wrong.
    #[error("malformed response: {0}")]
    MalformedResponse(&'static str),
    /// The response head (status line and headers, or the chunked trailer section) exceeded
    /// `max_header_bytes`.
    #[error("response head larger than {limit} bytes")]
    HeaderTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The response body exceeded `max_body_bytes` (declared by Content-Length or received).
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in force.
        limit: u64,
    },
    /// The request could not be built or sent as given (bad header, bad path, CR/LF in a
    /// value, unsupported scheme...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A URL or origin did not parse.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The text given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Any other I/O error.
    #[error("I/O error while {during}: {source}")]
    Io {
        /// Writing or reading.
        during: Phase,
        /// The operating system's error.
        source: io::Error,
    },
}

impl Error {
    /// The kind of this error, for counting.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ConnectRefused { .. } => ErrorKind::ConnectRefused,
            Error::ConnectTimeout { .. } => ErrorKind::ConnectTimeout,
            Error::ConnectFailed { .. } => ErrorKind::ConnectFailed,
            Error::Resolve { .. } => ErrorKind::Resolve,
            Error::RequestTimeout(_) => ErrorKind::RequestTimeout,
            Error::Reset { .. } => ErrorKind::Reset,
            Error::ClosedEarly { .. } => ErrorKind::ClosedEarly,
            Error::MalformedResponse(_) => ErrorKind::MalformedResponse,
            Error::HeaderTooLarge { .. } => ErrorKind::HeaderTooLarge,
            Error::BodyTooLarge { .. } => ErrorKind::BodyTooLarge,
            Error::InvalidRequest(_) | Error::InvalidUrl { .. } => ErrorKind::InvalidRequest,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// Classifies an I/O error seen while writing or reading on an established connection.
    pub(crate) fn from_io(during: Phase, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => Error::Reset { during },
            _ => Error::Io { during, source },
        }
    }

    /// Classifies an I/O error from `connect`.
    pub(crate) fn from_connect(addr: SocketAddr, timeout: Duration, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ConnectionRefused => Error::ConnectRefused { addr },
            io::ErrorKind::TimedOut => Error::ConnectTimeout { addr, timeout },
            _ => Error::ConnectFailed { addr, source },
        }
    }
}

/// The classification of an [`Error`], for counting in a dense array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// `connect_refused`: the server refused the connection.
    ConnectRefused,
    /// `connect_timeout`: the handshake did not finish within the connect timeout.
    ConnectTimeout,
    /// `connect_failed`: any other connect failure (unreachable, no route...).
    ConnectFailed,
    /// `resolve`: the host name does not resolve.
    Resolve,
    /// `request_timeout`: the per-request deadline passed.
    RequestTimeout,
    /// `reset`: the connection was reset.
    Reset,
    /// `closed_early`: closed before a complete response.
    ClosedEarly,
    /// `malformed_response`: not a valid HTTP/1.x response.
    MalformedResponse,
    /// `header_too_large`: the response head exceeded its cap.
    HeaderTooLarge,
    /// `body_too_large`: the response body exceeded its cap.
    BodyTooLarge,
    /// `invalid_request`: the request or URL is invalid.
    InvalidRequest,
    /// `io`: any other I/O error.
    Io,
}

impl ErrorKind {
    /// Every kind, in [`index`](Self::index) order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::ConnectFailed,
        ErrorKind::Resolve,
        ErrorKind::RequestTimeout,
        ErrorKind::Reset,
        ErrorKind::ClosedEarly,
        ErrorKind::MalformedResponse,
        ErrorKind::HeaderTooLarge,
        ErrorKind::BodyTooLarge,
        ErrorKind::InvalidRequest,
        ErrorKind::Io,
    ];

    /// How many kinds there are (the length of a counter array).
    pub const COUNT: usize = Self::ALL.len();

    /// A dense index in `0..COUNT`, stable across releases (new kinds are appended).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in reports and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::ConnectFailed => "connect_failed",
            ErrorKind::Resolve => "resolve",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::ClosedEarly => "closed_early",
            ErrorKind::MalformedResponse => "malformed_response",
            ErrorKind::HeaderTooLarge => "header_too_large",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Io => "io",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_dense_and_match_all() {
        for (position, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), position, "{kind}");
        }
        assert_eq!(ErrorKind::COUNT, 12);
    }

    #[test]
    fn names_are_unique_snake_case() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        for name in &names {
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::COUNT);
    }

    #[test]
    fn io_errors_are_classified() {
        let reset = Error::from_io(Phase::Read, io::ErrorKind::ConnectionReset.into());
        assert_eq!(reset.kind(), ErrorKind::Reset);
        let pipe = Error::from_io(Phase::Write, io::ErrorKind::BrokenPipe.into());
        assert_eq!(pipe.kind(), ErrorKind::Reset);
        let other = Error::from_io(Phase::Read, io::ErrorKind::PermissionDenied.into());
        assert_eq!(other.kind(), ErrorKind::Io);
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let t = Duration::from_secs(1);
        let cases = [
            (io::ErrorKind::ConnectionRefused, ErrorKind::ConnectRefused),
            (io::ErrorKind::TimedOut, ErrorKind::ConnectTimeout),
            (io::ErrorKind::HostUnreachable, ErrorKind::ConnectFailed),
        ];
        for (io_kind, expected) in cases {
            assert_eq!(
                Error::from_connect(addr, t, io_kind.into()).kind(),
                expected
            );
        }
    }
}
