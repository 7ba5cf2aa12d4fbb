//! The client's errors: [`Error`], one value per failure with the detail that explains it,
//! and [`ErrorKind`], the small `Copy` classification the engine counts by.
//!
//! Every failure of a request is one of these values; nothing in this crate panics on bad
//! input from a server or a caller. `ErrorKind` has a dense, stable [`ErrorKind::index`] so a
//! counter array of [`ErrorKind::COUNT`] entries can be indexed without a map; new kinds
//! are appended at the end, which keeps every existing index (the TLS kinds came after the
//! first twelve). How rustls failures map to the TLS kinds is in [`crate::tls`].

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
    /// During the TLS handshake of a new `https` connection.
    TlsHandshake,
}

impl Phase {
    /// A lowercase word for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Write => "writing the request",
            Phase::Read => "reading the response",
            Phase::TlsHandshake => "in the TLS handshake",
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
    /// The per-request deadline passed before the connection was open: while waiting for a
    /// connect slot or in the TCP handshake (counted as `connect_timeout`), or in the TLS
    /// handshake (counted as `tls_handshake`). Nothing was written.
    #[error("request timed out after {timeout:?} {during} (nothing was sent)")]
    TimedOutOpening {
        /// The request's timeout.
        timeout: Duration,
        /// Where the connection was: [`Opening`].
        during: Opening,
    },
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
    /// The response head (status line and headers) exceeded `max_header_bytes`.
    #[error("response head larger than {limit} bytes")]
    HeaderTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The trailer section of a chunked body (after the last chunk) exceeded
    /// `max_header_bytes`. Counted as [`ErrorKind::HeaderTooLarge`], as the head.
    #[error("response trailer section (after the last chunk) larger than {limit} bytes")]
    TrailerTooLarge {
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
    /// The server's certificate chain does not lead to a trusted root (a self-signed
    /// certificate, or one issued by a private CA that was not given with `--cacert`).
    #[error(
        "TLS: the certificate of {server} is not issued by a trusted certificate authority \
         ({reason}); trust its CA with --cacert FILE, or skip verification with --insecure"
    )]
    TlsUnknownIssuer {
        /// The server, as `host:port`.
        server: String,
        /// What the verifier said.
        reason: String,
    },
    /// The server's certificate is valid but not for the host name (or IP address) the
    /// request was sent to.
    #[error("TLS: the certificate of {server} does not match its name: {reason}")]
    TlsNameMismatch {
        /// The server, as `host:port`.
        server: String,
        /// Which name was expected and which names the certificate holds.
        reason: String,
    },
    /// Any other certificate problem: expired, not valid yet, revoked, badly encoded, not
    /// meant for a server, none presented.
    #[error("TLS: the certificate of {server} was rejected: {reason}")]
    TlsBadCertificate {
        /// The server, as `host:port`.
        server: String,
        /// What the verifier said.
        reason: String,
    },
    /// The handshake failed: the server refused it with an alert (its reason), the two
    /// sides share no protocol version, cipher suite or application protocol, or the server
    /// closed the connection in the middle of it.
    #[error("TLS handshake with {server} failed: {reason}")]
    TlsHandshake {
        /// The server, as `host:port`.
        server: String,
        /// The server's alert, or what was incompatible.
        reason: String,
    },
    /// The server broke the TLS protocol: corrupt or unexpected records (for instance a
    /// plain-HTTP server on an `https` port), a record that does not decrypt, or a fatal
    /// alert on an established connection.
    #[error("TLS protocol error with {server}: {reason}")]
    TlsProtocol {
        /// The server, as `host:port`.
        server: String,
        /// What was wrong, or the server's alert.
        reason: String,
    },
    /// The TLS settings cannot be used (an unreadable `--cacert` file, no certificate in it,
    /// a host that is not a valid TLS server name). Counted as `invalid_request`.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
}

/// How far a connection being opened had got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Waiting for a connect slot, or in the TCP handshake.
    Connect,
    /// In the TLS handshake.
    TlsHandshake,
}

impl std::fmt::Display for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Opening::Connect => "while connecting (the TCP handshake did not finish)",
            Opening::TlsHandshake => "in the TLS handshake",
        })
    }
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
            Error::TimedOutOpening {
                during: Opening::Connect,
                ..
            } => ErrorKind::ConnectTimeout,
            Error::TimedOutOpening {
                during: Opening::TlsHandshake,
                ..
            } => ErrorKind::TlsHandshake,
            Error::Reset { .. } => ErrorKind::Reset,
            Error::ClosedEarly { .. } => ErrorKind::ClosedEarly,
            Error::MalformedResponse(_) => ErrorKind::MalformedResponse,
            Error::HeaderTooLarge { .. } | Error::TrailerTooLarge { .. } => {
                ErrorKind::HeaderTooLarge
            }
            Error::BodyTooLarge { .. } => ErrorKind::BodyTooLarge,
            Error::InvalidRequest(_) | Error::InvalidUrl { .. } | Error::TlsConfig(_) => {
                ErrorKind::InvalidRequest
            }
            Error::Io { .. } => ErrorKind::Io,
            Error::TlsUnknownIssuer { .. } => ErrorKind::TlsUnknownIssuer,
            Error::TlsNameMismatch { .. } => ErrorKind::TlsNameMismatch,
            Error::TlsBadCertificate { .. } => ErrorKind::TlsBadCertificate,
            Error::TlsHandshake { .. } => ErrorKind::TlsHandshake,
            Error::TlsProtocol { .. } => ErrorKind::TlsProtocol,
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
    /// `tls_unknown_issuer`: the server's certificate is not issued by a trusted authority.
    TlsUnknownIssuer,
    /// `tls_name_mismatch`: the server's certificate is not valid for the host.
    TlsNameMismatch,
    /// `tls_bad_certificate`: any other certificate problem (expired, not yet valid...).
    TlsBadCertificate,
    /// `tls_handshake`: the TLS handshake failed (an alert from the server, nothing in common,
    /// closed mid-handshake).
    TlsHandshake,
    /// `tls_protocol`: the server broke the TLS protocol (corrupt records, not TLS at all).
    TlsProtocol,
}

impl ErrorKind {
    /// Every kind, in [`index`](Self::index) order.
    pub const ALL: [ErrorKind; 17] = [
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
        ErrorKind::TlsUnknownIssuer,
        ErrorKind::TlsNameMismatch,
        ErrorKind::TlsBadCertificate,
        ErrorKind::TlsHandshake,
        ErrorKind::TlsProtocol,
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
            ErrorKind::TlsUnknownIssuer => "tls_unknown_issuer",
            ErrorKind::TlsNameMismatch => "tls_name_mismatch",
            ErrorKind::TlsBadCertificate => "tls_bad_certificate",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::TlsProtocol => "tls_protocol",
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
        assert_eq!(ErrorKind::COUNT, 17);
    }

    #[test]
    fn first_indexes_never_move() {
        // The engine's counters and saved reports rely on these positions.
        let fixed = [
            (ErrorKind::ConnectRefused, 0),
            (ErrorKind::Io, 11),
            (ErrorKind::TlsUnknownIssuer, 12),
            (ErrorKind::TlsNameMismatch, 13),
            (ErrorKind::TlsBadCertificate, 14),
            (ErrorKind::TlsHandshake, 15),
            (ErrorKind::TlsProtocol, 16),
        ];
        for (kind, index) in fixed {
            assert_eq!(kind.index(), index, "{kind}");
        }
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
