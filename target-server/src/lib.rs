//! A small fast HTTP/1.1 target server for molotov's tests, demo and benchmarks, with
//! switchable misbehaviours.
//!
//! [`start`] runs the server on its own glommio executor thread(s) and returns a
//! [`ServerHandle`] once it listens; the handle reports exact counts of requests answered
//! and connections accepted, and [`ServerHandle::stop`] closes everything. Routes
//! (fixed JSON, echo, delays, status codes, chunked replies, `Connection: close`, a small
//! demo API and `/hostile/...` misbehaviours) are listed in docs/target-server.md.
//!
//! With `ServerConfig::tls` ([`ServerTls`]) it serves HTTPS instead, with a certificate
//! authority and server certificate generated at start ([`TlsIdentity`], rcgen); the handle
//! gives the CA's PEM for clients to trust and counts handshakes and resumptions.

mod conn;
mod hostile;
mod routes;
mod server;
mod stats;
mod stream;
mod tls;
mod wire;

pub use server::{ServerConfig, ServerHandle, ServerStats, start};
pub use tls::{LOCALHOST_NAMES, ServerTls, TlsIdentity};

/// Constants tests use to check replies byte for byte.
pub mod replies {
    pub use crate::conn::{MAX_BODY_BYTES, MAX_HEAD_BYTES};
    pub use crate::hostile::{
        GARBAGE, HUGE_HEADER_FIELDS, RESET_HEAD, SLOWLORIS_RESPONSE, TRUNCATED_HEAD, WRONG_LENGTH,
    };
    pub use crate::routes::{CHUNKS, MAX_BYTES, MAX_DELAY_MS, PAGE_SIZE};
    pub use crate::wire::{FIXED_JSON, SERVER};
}
