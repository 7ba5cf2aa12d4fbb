//! Minimal HTTP/1.1 client for molotov: pre-rendered requests, responses parsed by a fast path
//! for common heads or httparse, keep-alive over molotov-runtime.
//!
//! - [`render_request`] turns a method, authority, path, headers and body into wire bytes
//!   (validated: no CR/LF injection), once for static requests or into a reused buffer;
//! - [`ResponseParser`] is a sans-io incremental response parser (status, headers on demand,
//!   Content-Length, chunked with trailers, until-close, bodiless responses, caps);
//! - [`Client`] owns one keep-alive connection to one [`Origin`] and sends requests with a
//!   per-request deadline, reconnecting and retrying by the rules in [`client`];
//! - `https` origins go through TLS ([`tls`]: rustls with ALPN `http/1.1`, SNI, session
//!   resumption through a per-process [`TlsConnector`], `--insecure`/`--cacert`/`--tls-min`
//!   as [`TlsOptions`]);
//! - every failure is an [`Error`] value with an [`ErrorKind`] for counting.
//!
//! See `docs/http-client.md` for the framing, retry and error rules in one place.

mod cert_dates;
pub mod client;
pub mod deadline;
pub mod error;
mod head;
pub mod request;
pub mod response;
pub mod tls;
mod transport;
pub mod url;

pub use client::{Client, ClientConfig, ClientCounters, Meter, Response, Timings};
pub use deadline::{Deadline, DeadlineTimer};
pub use error::{Error, ErrorKind, Opening, Phase};
pub use request::{DEFAULT_USER_AGENT, RequestMeta, asks_to_close, render_request};
pub use response::{HeaderNeeds, Limits, Progress, ResponseNeeds, ResponseParser};
pub use tls::{TlsConnector, TlsInfo, TlsOptions, TlsVersion};
pub use url::{Origin, Scheme, split_url};

/// Re-exported so callers name methods without depending on `http` themselves.
pub use http::Method;
