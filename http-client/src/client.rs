//! The keep-alive client: [`Client`] owns one connection to one [`Origin`] and sends
//! pre-rendered requests on it; [`Response`] borrows the parsed result from the client's
//! reused buffers.
//!
//! Connection rules:
//! - one connection at a time, kept alive while the server allows it (HTTP/1.1 without
//!   `Connection: close`, HTTP/1.0 with `keep-alive`, a length-delimited body, no stray
//!   bytes after the response);
//! - before reusing a connection that sat idle (`ClientConfig::probe_idle_after`, default
//!   1 ms) or for a non-idempotent request, the client checks without blocking whether the
//!   server closed it or sent stray bytes (one `recv(MSG_PEEK|MSG_DONTWAIT)`; with multishot
//!   receives also what the receive took, reaped or posted: `TcpStream::nothing_to_read`);
//!   such a connection is replaced by a fresh one transparently (a reconnect, not a retry,
//!   not an error);
//! - a request that fails on a *reused* connection before any response byte arrived (EOF,
//!   reset or broken pipe while writing or at the first read) is sent once more on a fresh
//!   connection if `RequestMeta::idempotent`; otherwise, or on a fresh connection, the error
//!   is returned;
//! - every error and every timeout closes the connection (its state is unknown);
//! - a response that comes before the request is all written (a server that answers a large
//!   body with `413` and stops reading) is read while the write waits, and is the answer; so
//!   is one already received when the write fails with a reset or broken pipe (RFC 9112
//!   section 9.5). Sending stops, and the connection is closed after it.
//!
//! What a client did (bytes each way, connects and their times, TLS handshakes, retries) is
//! reported to its [`Meter`] as it happens: [`ClientCounters`] (the default) adds it up in
//! the client; molotov's engine gives a meter that writes straight into the shared-memory
//! counters, so they are current even when a load process is killed mid-request.
//!
//! The per-request `timeout` is a deadline covering connect, TLS handshake, write and read,
//! enforced with one reused timer ([`crate::deadline`]); the TCP connect itself is also
//! bounded by `ClientConfig::connect_timeout` (a runtime timer raced with the non-blocking
//! connect, `TcpStream::connect_timeout`).
//!
//! `https` origins: after the TCP connect the client runs a TLS handshake (rustls, through
//! [`crate::tls::TlsConnector`]: the one given with [`Client::with_tls`], or the process's
//! shared one for `ClientConfig::tls`), timed apart from the connect. Everything above then
//! works the same over the encrypted stream (the private `transport` module): keep-alive,
//! the idle check, reconnects (which resume the TLS session when the server allows it) and
//! retries.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};
use molotov_runtime::net::TcpStream;
use rustls::pki_types::ServerName;

use crate::deadline::DeadlineTimer;
use crate::error::{Error, Opening, Phase};
use crate::request::RequestMeta;
use crate::response::{Limits, Progress, ResponseNeeds, ResponseParser};
use crate::tls::{self, TlsConnector, TlsInfo, TlsOptions};
use crate::transport::Transport;
use crate::url::{Origin, Scheme};

thread_local! {
    /// The connect gate of the executor running on this thread (see
    /// [`ClientConfig::max_parallel_connects`]), with that executor's id.
    static CONNECT_GATE: std::cell::RefCell<Option<(usize, std::rc::Rc<molotov_runtime::sync::Semaphore>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The current executor's connect gate, created on first use with `limit` turns.
fn connect_gate(limit: usize) -> std::rc::Rc<molotov_runtime::sync::Semaphore> {
    let executor = molotov_runtime::executor_id();
    CONNECT_GATE.with(|cell| {
        let mut current = cell.borrow_mut();
        match current.as_ref() {
            Some((id, gate)) if *id == executor => std::rc::Rc::clone(gate),
            _ => {
                let gate = std::rc::Rc::new(molotov_runtime::sync::Semaphore::new(limit.max(1)));
                *current = Some((executor, std::rc::Rc::clone(&gate)));
                gate
            }
        }
    })
}

thread_local! {
    /// The read buffer of every client on this thread (see [`read_into`]).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Debug builds: the address of the stream whose read last filled [`READ_BUFFER`], so
    /// that [`with_read_buffer`] can check no other read came in between.
    #[cfg(debug_assertions)]
    static READ_OWNER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Reads what `stream` has into this thread's shared read buffer (at most `size` bytes);
/// `Ok(0)` at the end of the stream. The bytes are in the buffer until the next read on this
/// thread: the caller hands them to [`with_read_buffer`] before it awaits anything.
///
/// A read is a `recv` made once the socket is readable (the runtime polls for readiness,
/// then copies), or with multishot receives a copy out of the executor's own buffers:
/// nothing is in flight into this buffer while the task waits, and the parser keeps a
/// copy of whatever it needs. So one buffer serves every client of the thread. A buffer per
/// client was a line or more of cache per request to fetch back among hundreds of workers,
/// and memory per worker for nothing.
fn read_into(
    stream: &mut Transport,
    size: usize,
) -> impl std::future::Future<Output = std::io::Result<usize>> {
    std::future::poll_fn(move |cx| poll_read_into(stream, size, cx))
}

/// One poll of [`read_into`].
fn poll_read_into(
    stream: &mut Transport,
    size: usize,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<usize>> {
    READ_BUFFER.with(|cell| {
        // Borrowed only within this poll, which never re-enters a read: no other borrow can
        // be live.
        let mut buf = cell.borrow_mut();
        if buf.len() < size {
            buf.resize(size, 0);
        }
        let read = Pin::new(&mut *stream).poll_read(cx, &mut buf[..size]);
        #[cfg(debug_assertions)]
        if read.is_ready() {
            READ_OWNER.with(|owner| owner.set(stream_address(stream)));
        }
        read
    })
}

/// What a turn of sending a request brought: progress of the write, or a read that came in
/// while the write had to wait.
enum Sent {
    /// The answer of a write of the request's next bytes, or once they are all written, of
    /// the flush (as `Ok(0)`; TLS pushes out what rustls holds, plain TCP has nothing).
    Wrote(std::io::Result<usize>),
    /// A read's answer, as [`read_into`]'s (the bytes are in the thread's read buffer).
    Read(std::io::Result<usize>),
}

/// Writes `rest` (flushes, when it is empty) and, while the write cannot go on, also waits
/// for the response: a server may answer before it has read the whole request (a `413` to
/// a body it will not take, then it stops reading), and a client that only waited for the
/// write would wait for good (RFC 9112 section 9.5: watch for a response while sending a
/// body). The write is tried first, so a request the socket takes at once costs one poll,
/// as a plain write.
fn send_or_read(
    stream: &mut Transport,
    rest: &[u8],
    size: usize,
) -> impl std::future::Future<Output = Sent> {
    std::future::poll_fn(move |cx| {
        let wrote = if rest.is_empty() {
            Pin::new(&mut *stream)
                .poll_flush(cx)
                .map(|flushed| flushed.map(|()| 0))
        } else {
            Pin::new(&mut *stream).poll_write(cx, rest)
        };
        if let Poll::Ready(wrote) = wrote {
            return Poll::Ready(Sent::Wrote(wrote));
        }
        poll_read_into(stream, size, cx).map(Sent::Read)
    })
}

/// When the bytes of `stream`'s last read had arrived, at the latest: the bound the stream
/// knows (a multishot receive's completion, read before other tasks ran), else now. A bound
/// before `write_start` (bytes that came before the request was written) is not one for
/// the response: the clock is read then too.
#[inline]
fn arrived_by(stream: &Transport, write_start: Instant) -> Instant {
    match stream.last_read_arrived_by() {
        Some(at) if at >= write_start => at,
        _ => Instant::now(),
    }
}

/// Runs `f` on the first `n` bytes of this thread's read buffer, which the last read, on
/// `stream`, put there. Debug builds check that it was that stream's read: an `await` slipped
/// in between the read and this call would let another task's read overwrite the bytes.
fn with_read_buffer<T>(stream: &Transport, n: usize, f: impl FnOnce(&[u8]) -> T) -> T {
    #[cfg(debug_assertions)]
    READ_OWNER.with(|owner| {
        assert_eq!(
            owner.get(),
            stream_address(stream),
            "the thread's read buffer was refilled by another stream before it was parsed"
        );
    });
    #[cfg(not(debug_assertions))]
    let _ = stream;
    READ_BUFFER.with(|cell| f(&cell.borrow()[..n]))
}

/// A stream's address, to tell streams apart (debug checks of the shared read buffer).
#[cfg(debug_assertions)]
fn stream_address(stream: &Transport) -> usize {
    std::ptr::from_ref(stream) as usize
}

/// Settings of a [`Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Bound on one TCP handshake (also bounded by the request's deadline). Default 5 s.
    pub connect_timeout: Duration,
    /// Cap on the response head and on the trailer section. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Cap on a kept response body (one that is not kept is counted and dropped, whatever
    /// its size). Default 16 MiB.
    pub max_body_bytes: u64,
    /// Set `TCP_NODELAY` on connections. Default true.
    pub nodelay: bool,
    /// Most bytes one read takes from the socket. Every client of a thread reads into the
    /// thread's one buffer (as large as the largest of these), so this costs no memory per
    /// connection. Default 16 KiB.
    pub read_buffer_bytes: usize,
    /// Before reusing a connection, check without blocking whether the server closed it or
    /// sent stray bytes (one `recv(MSG_PEEK|MSG_DONTWAIT)`, about 0.7 µs here) when it has
    /// been idle at least this long, and always for a non-idempotent request (which could
    /// not be retried). Default 1 ms: back-to-back requests under load skip the syscall (a
    /// close they run into is handled by the retry rule), a connection that sat idle (where
    /// servers close) is checked. `None`: never check; a close between requests then
    /// becomes a retry (idempotent) or a `closed_early`/`reset` error (others).
    pub probe_idle_after: Option<Duration>,
    /// Connections being opened at once by the clients of one executor; more wait their
    /// turn. Opening one costs a few KiB of transient state (the connect and handshake
    /// futures), so ten thousand workers all connecting at once would leave that much
    /// resident for good. Default 128.
    pub max_parallel_connects: usize,
    /// How `https` connections are verified (`--insecure`, `--cacert`, `--tls-min`). Used to
    /// pick the process's shared [`TlsConnector`] unless the client was given one with
    /// [`Client::with_tls`]. Default: verify against the compiled-in roots, TLS 1.2 or 1.3.
    pub tls: TlsOptions,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let limits = Limits::default();
        ClientConfig {
            connect_timeout: Duration::from_secs(5),
            max_header_bytes: limits.max_header_bytes,
            max_body_bytes: limits.max_body_bytes,
            nodelay: true,
            read_buffer_bytes: 16 << 10,
            probe_idle_after: Some(Duration::from_millis(1)),
            max_parallel_connects: 128,
            tls: TlsOptions::default(),
        }
    }
}

/// When the parts of one request happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timings {
    /// Time spent in TCP connects during this request (all attempts), when it connected.
    pub connect: Option<Duration>,
    /// Time spent in TLS handshakes during this request (all attempts), when it connected
    /// to an `https` origin. Counted neither in `connect` nor in `ttfb`/`total`.
    pub tls_handshake: Option<Duration>,
    /// From the first byte written to the first response bytes read (final attempt): when
    /// the read that brought them was parsed. Equal to `total` when one read held the whole
    /// response.
    pub ttfb: Duration,
    /// From the first byte written to the last response byte parsed (final attempt).
    /// Connect time is not included: see `connect`.
    pub total: Duration,
}

/// Where a client reports what it did, as it happens (also for requests that fail): the
/// bytes of each write and read, each connect, TLS handshake and retry. Called on the request
/// path: implementations should be a few adds.
pub trait Meter {
    /// `n` request bytes were written.
    fn bytes_sent(&mut self, n: u64);
    /// `n` response bytes were read.
    fn bytes_received(&mut self, n: u64);
    /// A TCP connect succeeded after `took`; `reconnect` when it replaced an earlier
    /// connection of this client.
    fn connected(&mut self, took: Duration, reconnect: bool);
    /// A TLS handshake completed after `took`; `resumed` when it resumed an earlier session.
    fn tls_handshake(&mut self, took: Duration, resumed: bool);
    /// A request is sent a second time after a reused connection failed.
    fn retried(&mut self);
}

/// Cumulative counts of a client, kept up to date even when requests fail: the default
/// [`Meter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientCounters {
    /// Successful TCP connects.
    pub connects: u64,
    /// Connects that replaced an earlier connection (all connects but the first).
    pub reconnects: u64,
    /// Time spent in successful TCP connects.
    pub connect_time: Duration,
    /// Completed TLS handshakes (`https`).
    pub tls_handshakes: u64,
    /// TLS handshakes that resumed an earlier session (included in `tls_handshakes`).
    pub tls_resumed: u64,
    /// Time spent in completed TLS handshakes.
    pub tls_handshake_time: Duration,
    /// Requests sent a second time after a reused connection failed.
    pub retries: u64,
    /// Request bytes written.
    pub bytes_sent: u64,
    /// Response bytes read.
    pub bytes_received: u64,
}

impl Meter for ClientCounters {
    #[inline]
    fn bytes_sent(&mut self, n: u64) {
        self.bytes_sent += n;
    }
    #[inline]
    fn bytes_received(&mut self, n: u64) {
        self.bytes_received += n;
    }
    fn connected(&mut self, took: Duration, reconnect: bool) {
        self.connects += 1;
        self.reconnects += u64::from(reconnect);
        self.connect_time += took;
    }
    fn tls_handshake(&mut self, took: Duration, resumed: bool) {
        self.tls_handshakes += 1;
        self.tls_resumed += u64::from(resumed);
        self.tls_handshake_time += took;
    }
    fn retried(&mut self) {
        self.retries += 1;
    }
}

/// A parsed response, borrowed from the client until the next request.
#[derive(Debug)]
pub struct Response<'a> {
    parser: &'a ResponseParser,
    timings: Timings,
    bytes_sent: u64,
    bytes_received: u64,
    reused: bool,
    finished_at: Instant,
}

impl<'a> Response<'a> {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.parser.status()
    }

    /// The first value of header `name` (case-insensitive). Promised for headers named in
    /// `ResponseNeeds` (answers for any header when any were needed); `None` when no
    /// headers were needed.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.parser.header(name)
    }

    /// The kept headers, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.parser.headers()
    }

    /// The first value of trailer field `name` of a chunked body, when headers were needed.
    pub fn trailer(&self, name: &str) -> Option<&'a [u8]> {
        self.parser.trailer(name)
    }

    /// The kept trailer fields, in order.
    pub fn trailers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.parser.trailers()
    }

    /// The body, empty unless it was needed.
    pub fn body(&self) -> &'a [u8] {
        self.parser.body()
    }

    /// Body length in bytes as received (kept or not).
    pub fn body_len(&self) -> u64 {
        self.parser.body_len()
    }

    /// When the last byte of the response was parsed (the end of [`Timings::total`]): a
    /// clock reading the caller can reuse instead of taking its own.
    pub fn finished_at(&self) -> Instant {
        self.finished_at
    }

    /// Timings of this request.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Request bytes written for this request (all attempts).
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Response bytes read for this request (all attempts).
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// Whether the final attempt ran on a connection that had served a request before.
    pub fn reused_connection(&self) -> bool {
        self.reused
    }

    /// Whether the connection stays open after this response.
    pub fn keep_alive(&self) -> bool {
        self.parser.keep_alive()
    }
}

/// A keep-alive HTTP/1.1 client for one origin. Not `Send`: one per worker per origin.
#[derive(Debug)]
// Fields in this order (and `Core`'s, and `Core` last) so that what every request touches
// comes first: among hundreds of workers, each cache line of it is fetched back per request.
#[repr(C)]
pub struct Client<M = ClientCounters> {
    timer: DeadlineTimer,
    core: Core<M>,
}

/// Everything but the timer, so an exchange can borrow it while the timer races it.
///
/// In `repr(C)` order: first what every request reads or writes (the connection, the parser,
/// the counters, the idle clock, the two settings a request reads), then what only a connect
/// or an error reads.
#[derive(Debug)]
#[repr(C)]
struct Core<M> {
    conn: Option<Transport>,
    parser: ResponseParser,
    /// Where what the client does is reported.
    meter: M,
    /// When the last response on `conn` was complete.
    idle_since: Instant,
    /// Requests completed on `conn`.
    served: u64,
    /// The executor `conn` belongs to (a stream cannot move between executors).
    conn_executor: usize,
    /// `config.probe_idle_after`, here with the rest of what a request reads.
    probe_idle_after: Option<Duration>,
    /// `config.read_buffer_bytes` (at least 1).
    read_size: usize,
    ever_connected: bool,
    origin: Origin,
    config: ClientConfig,
    addrs: Vec<SocketAddr>,
    /// Set by [`Client::unresolved`]: why the host did not resolve; every connect fails with
    /// it without looking the name up again.
    unresolved: Option<String>,
    /// For `https`: the connector, given or taken from the shared one at the first connect.
    tls: Option<TlsConnector>,
    /// For `https`: the name the certificate must match (and the SNI), from the host.
    server_name: Option<ServerName<'static>>,
    /// Where a connection being opened is (None once it is open): a deadline that passes
    /// meanwhile is a connect or handshake timeout, not a slow response.
    opening: Option<Opening>,
}

/// What one successful exchange measured.
#[derive(Debug, Default)]
struct Exchange {
    timings: Timings,
    bytes_sent: u64,
    bytes_received: u64,
    reused: bool,
    /// When the response was complete (set by a successful attempt).
    finished_at: Option<Instant>,
}

/// How an attempt failed: the error, and whether it may be retried on a fresh connection.
struct Failure {
    error: Error,
    before_response: bool,
}

impl Client {
    /// A client for `origin`; the host is resolved at the first connect and cached.
    /// Creating it needs no executor and opens nothing.
    pub fn new(origin: Origin, config: ClientConfig) -> Client {
        Self::build(origin, Vec::new(), config)
    }

    /// A client for `origin` that connects to `addrs` (already resolved, e.g. once per
    /// process) instead of resolving the host itself.
    pub fn with_addresses(origin: Origin, addrs: Vec<SocketAddr>, config: ClientConfig) -> Client {
        Self::build(origin, addrs, config)
    }

    /// A client for `origin` whose host is known not to resolve (`reason`, e.g. from a lookup
    /// made once per process): every `send` fails at once with a `resolve` error, without
    /// another lookup. A name lookup blocks the executor (the system resolver is
    /// synchronous, and a slow DNS server can take seconds), so it must not be repeated for
    /// every request to a name that does not exist.
    pub fn unresolved(origin: Origin, reason: String, config: ClientConfig) -> Client {
        let mut client = Self::build(origin, Vec::new(), config);
        client.core.unresolved = Some(reason);
        client
    }

    fn build(origin: Origin, addrs: Vec<SocketAddr>, config: ClientConfig) -> Client {
        let limits = Limits {
            max_header_bytes: config.max_header_bytes,
            max_body_bytes: config.max_body_bytes,
        };
        Client {
            timer: DeadlineTimer::new(),
            core: Core {
                origin,
                addrs,
                unresolved: None,
                conn: None,
                tls: None,
                server_name: None,
                opening: None,
                conn_executor: 0,
                served: 0,
                idle_since: Instant::now(),
                ever_connected: false,
                probe_idle_after: config.probe_idle_after,
                read_size: config.read_buffer_bytes.max(1),
                parser: ResponseParser::new(limits),
                meter: ClientCounters::default(),
                config,
            },
        }
    }

    /// Uses `connector` for `https` connections instead of the process's shared one for
    /// `ClientConfig::tls` (whose TLS settings are then ignored). Give every client of a
    /// process the same connector (clones share it): its session cache is what lets
    /// reconnects resume.
    pub fn with_tls(mut self, connector: TlsConnector) -> Client {
        self.core.tls = Some(connector);
        self
    }

    /// Cumulative counters (updated even by failed requests).
    pub fn counters(&self) -> ClientCounters {
        self.core.meter
    }

    /// The same client (nothing opened yet, or its open connection) reporting to `meter`
    /// from now on instead of its counters.
    pub fn metered<M: Meter>(self, meter: M) -> Client<M> {
        let Core {
            conn,
            parser,
            meter: _,
            idle_since,
            served,
            conn_executor,
            probe_idle_after,
            read_size,
            ever_connected,
            origin,
            config,
            addrs,
            unresolved,
            tls,
            server_name,
            opening,
        } = self.core;
        Client {
            timer: self.timer,
            core: Core {
                conn,
                parser,
                meter,
                idle_since,
                served,
                conn_executor,
                probe_idle_after,
                read_size,
                ever_connected,
                origin,
                config,
                addrs,
                unresolved,
                tls,
                server_name,
                opening,
            },
        }
    }
}

impl<M: Meter> Client<M> {
    /// The meter the client reports to.
    pub fn meter(&self) -> &M {
        &self.core.meter
    }

    /// The meter the client reports to, e.g. to tell it which request comes next.
    pub fn meter_mut(&mut self) -> &mut M {
        &mut self.core.meter
    }

    /// What the open `https` connection negotiated (version, cipher suite, ALPN, resumed);
    /// `None` without a connection or for `http`.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.core.conn.as_ref()?.tls().and_then(tls::info)
    }

    /// The origin this client talks to.
    pub fn origin(&self) -> &Origin {
        &self.core.origin
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.core.config
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.core.conn.is_some()
    }

    /// Closes the connection, if any (the next request connects again).
    pub fn close(&mut self) {
        self.core.conn = None;
    }

    /// Sends `request` (complete wire bytes, e.g. from [`crate::render_request`]) and reads
    /// its response, keeping what `needs` asks for.
    ///
    /// `meta` must describe the request's method (HEAD framing, retry rule). `timeout` is
    /// the deadline for the whole exchange: connect, TLS handshake, write and read.
    pub async fn send(
        &mut self,
        request: &[u8],
        meta: RequestMeta,
        needs: &ResponseNeeds,
        timeout: Duration,
    ) -> Result<Response<'_>, Error> {
        if request.is_empty() {
            return Err(Error::InvalidRequest("empty request".to_owned()));
        }
        self.core.parser.reset(meta.head, needs);
        // One clock reading arms the deadline, decides the idle probe and, on a kept-alive
        // connection, starts the latency.
        let started = Instant::now();
        let core = &mut self.core;
        // Pinned where it is built: the deadline then holds a pointer, and the exchange's
        // state is not copied into it (a memcpy of a few hundred bytes per request).
        let outcome = {
            let exchange = std::pin::pin!(core.exchange(request, meta, started));
            self.timer.run_from(started, timeout, exchange).await
        };
        match outcome {
            Some(Ok(exchange)) => Ok(Response {
                parser: &self.core.parser,
                timings: exchange.timings,
                bytes_sent: exchange.bytes_sent,
                bytes_received: exchange.bytes_received,
                reused: exchange.reused,
                finished_at: exchange.finished_at.unwrap_or(started),
            }),
            Some(Err(error)) => {
                self.core.conn = None;
                Err(error)
            }
            None => {
                self.core.conn = None;
                match self.core.opening.take() {
                    Some(during) => Err(Error::TimedOutOpening { timeout, during }),
                    None => Err(Error::RequestTimeout(timeout)),
                }
            }
        }
    }
}

impl<M: Meter> Core<M> {
    /// The request on a ready connection, retried once on a fresh one when a kept-alive
    /// connection turns out dead; `started` is when `send` was called.
    async fn exchange(
        &mut self,
        request: &[u8],
        meta: RequestMeta,
        started: Instant,
    ) -> Result<Exchange, Error> {
        let mut exchange = Exchange::default();
        let mut retried = false;
        loop {
            // The usual case, a kept-alive connection taken without a probe, is decided here
            // without building and polling `ready_connection`'s future.
            let (reused, fresh) = if self.reusable_as_is(meta, started) {
                (true, true)
            } else {
                (self.ready_connection(&mut exchange).await?, false)
            };
            // The write starts now: `started` is still now when nothing happened since (a
            // kept-alive connection, first attempt, no probe); after a connect, a probe or a
            // failed attempt the clock is read again.
            let write_start = if fresh && !retried {
                started
            } else {
                Instant::now()
            };
            // One write and read of the request on the open connection; the latency counts
            // from `write_start`. (Inline rather than an `async fn` of its own: one state
            // machine less to enter and leave twice per request.)
            let attempt: Result<(), Failure> = 'attempt: {
                let Some(stream) = self.conn.as_mut() else {
                    break 'attempt Err(Failure {
                        error: Error::ClosedEarly { received: 0 },
                        before_response: true,
                    });
                };
                let mut written = 0;
                // Until the request is written and flushed, each turn writes and, while the
                // write has to wait, also reads (see `send_or_read`).
                let mut sending = true;
                // Whether the whole request was written and flushed.
                let mut sent_whole = false;
                // The write failed with a reset or broken pipe: a response the server sent
                // before may still be in the receive buffer (Linux keeps received bytes
                // readable after an RST, and a reset socket never makes a read wait), so it
                // is read; this error stands if no complete response is there.
                let mut write_error: Option<Error> = None;
                let mut first_byte: Option<Instant> = None;
                // When the response's last bytes had arrived, at the latest.
                let done = loop {
                    let read = if sending {
                        match send_or_read(stream, &request[written..], self.read_size).await {
                            Sent::Wrote(Ok(0)) if written < request.len() => {
                                break 'attempt Err(Failure {
                                    error: Error::Reset {
                                        during: Phase::Write,
                                    },
                                    before_response: true,
                                });
                            }
                            Sent::Wrote(Ok(n)) if written < request.len() => {
                                written += n;
                                exchange.bytes_sent += n as u64;
                                self.meter.bytes_sent(n as u64);
                                continue;
                            }
                            // Written and flushed.
                            Sent::Wrote(Ok(_)) => {
                                sending = false;
                                sent_whole = true;
                                continue;
                            }
                            Sent::Wrote(Err(e)) => {
                                let error = io_error(&self.origin, Phase::Write, e);
                                if error.kind() != crate::ErrorKind::Reset {
                                    break 'attempt Err(Failure {
                                        error,
                                        before_response: false,
                                    });
                                }
                                write_error = Some(error);
                                sending = false;
                                continue;
                            }
                            Sent::Read(read) => read,
                        }
                    } else {
                        read_into(stream, self.read_size).await
                    };
                    let n = match read {
                        Ok(0) => {
                            let before_response = first_byte.is_none();
                            if let Err(error) = self.parser.feed_eof() {
                                break 'attempt Err(Failure {
                                    error: write_error.unwrap_or(error),
                                    before_response,
                                });
                            }
                            // The body ran until close: complete, and the connection is gone.
                            self.conn = None;
                            break Instant::now();
                        }
                        Ok(n) => n,
                        Err(e) => {
                            let phase = if sending { Phase::Write } else { Phase::Read };
                            let error = write_error.unwrap_or(io_error(&self.origin, phase, e));
                            let before_response =
                                first_byte.is_none() && error.kind() == crate::ErrorKind::Reset;
                            break 'attempt Err(Failure {
                                error,
                                before_response,
                            });
                        }
                    };
                    // Nothing awaited since the read: the bytes are still in the thread's
                    // buffer.
                    let fed = with_read_buffer(stream, n, |bytes| self.parser.feed(bytes));
                    exchange.bytes_received += n as u64;
                    self.meter.bytes_received(n as u64);
                    match fed {
                        Ok(Progress::Partial) => {
                            // The first byte came with this read. When the first read holds
                            // the whole response (the usual case) no clock is read here: first
                            // byte and last are the same reading, `done` below.
                            if first_byte.is_none() {
                                first_byte = Some(arrived_by(stream, write_start));
                            }
                            // A final response that says the server closes came before the
                            // request was all sent: stop sending (RFC 9112 section 9.5) and
                            // read the rest of it.
                            if sending && self.parser.head_complete() && !self.parser.keep_alive() {
                                sending = false;
                            }
                            // A body that keeps arriving never makes a read wait: give the
                            // other tasks (and the deadline sweeper) their turn when the slice
                            // is up.
                            molotov_runtime::yield_if_needed().await;
                        }
                        Ok(Progress::Complete { consumed }) => {
                            let done = arrived_by(stream, write_start);
                            self.served += 1;
                            if consumed < n
                                || !self.parser.keep_alive()
                                || meta.closes
                                || stream.has_buffered_plaintext()
                                || !sent_whole
                            {
                                // Stray bytes after the response (or decrypted ones left in
                                // rustls), or the server said it closes (or sent close_notify),
                                // or the request did (`Connection: close`: nothing more may
                                // be sent on it), or the response came before the request was
                                // all written (the server may take the rest for another
                                // request).
                                self.conn = None;
                            }
                            break done;
                        }
                        Err(error) => {
                            break 'attempt Err(Failure {
                                error,
                                before_response: false,
                            });
                        }
                    }
                };
                self.idle_since = done;
                let total = done - write_start;
                exchange.timings.ttfb = first_byte.map_or(total, |at| at - write_start);
                exchange.timings.total = total;
                exchange.finished_at = Some(done);
                Ok(())
            };
            match attempt {
                Ok(()) => {
                    exchange.reused = reused;
                    return Ok(exchange);
                }
                Err(failure) => {
                    self.conn = None;
                    if reused && failure.before_response && meta.idempotent && !retried {
                        retried = true;
                        self.meter.retried();
                        continue;
                    }
                    return Err(failure.error);
                }
            }
        }
    }

    /// Whether the open connection can carry the request without a probe: it belongs to this
    /// executor, and the request is idempotent and the connection was idle for less than
    /// `probe_idle_after`. Every other case goes to [`Core::ready_connection`].
    fn reusable_as_is(&self, meta: RequestMeta, now: Instant) -> bool {
        self.conn.is_some()
            && self.conn_executor == molotov_runtime::executor_id()
            && match self.probe_idle_after {
                None => true,
                Some(idle) => {
                    meta.idempotent && now.saturating_duration_since(self.idle_since) < idle
                }
            }
    }

    /// Makes sure a usable connection is open when the open one, if any, cannot be taken as
    /// is ([`Core::reusable_as_is`] said no): a connection of this executor is probed (it
    /// sat idle, or the request is not idempotent) and kept if clean; anything else is
    /// replaced by a fresh one. Returns whether the connection is a reused one.
    async fn ready_connection(&mut self, exchange: &mut Exchange) -> Result<bool, Error> {
        if let Some(stream) = &mut self.conn {
            if self.conn_executor == molotov_runtime::executor_id() && stream.idle_is_clean() {
                return Ok(true);
            }
            self.conn = None;
        }
        // The cold path (connect, TLS handshake) is boxed: its futures are large, and inline
        // they would make every request's future (and every worker's task) as large.
        // Set until the connection is open (also on a failure, which the next connect
        // overwrites): read only when the deadline passes.
        self.opening = Some(Opening::Connect);
        let gate = connect_gate(self.config.max_parallel_connects);
        let _turn = gate.acquire().await;
        Box::pin(self.open_connection(exchange)).await?;
        self.opening = None;
        Ok(false)
    }

    /// Opens a fresh connection (TCP, then TLS for https) and records its timings.
    async fn open_connection(&mut self, exchange: &mut Exchange) -> Result<(), Error> {
        let started = Instant::now();
        let stream = self.connect().await?;
        let took = started.elapsed();
        self.meter.connected(took, self.ever_connected);
        self.ever_connected = true;
        exchange.timings.connect = Some(exchange.timings.connect.unwrap_or_default() + took);
        let transport = match self.origin.scheme {
            Scheme::Http => Transport::Plain(stream),
            Scheme::Https => {
                let started = Instant::now();
                self.opening = Some(Opening::TlsHandshake);
                let tls = self.tls_handshake(stream).await?;
                let took = started.elapsed();
                let resumed =
                    tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                self.meter.tls_handshake(took, resumed);
                exchange.timings.tls_handshake =
                    Some(exchange.timings.tls_handshake.unwrap_or_default() + took);
                Transport::Tls(Box::new(tls))
            }
        };
        self.conn = Some(transport);
        self.conn_executor = molotov_runtime::executor_id();
        self.served = 0;
        Ok(())
    }

    /// The TLS handshake on a fresh TCP connection.
    async fn tls_handshake(
        &mut self,
        stream: TcpStream,
    ) -> Result<futures_rustls::client::TlsStream<TcpStream>, Error> {
        let connector = match &self.tls {
            Some(connector) => connector,
            None => self.tls.insert(TlsConnector::shared(&self.config.tls)?),
        };
        let server_name = match &self.server_name {
            Some(name) => name.clone(),
            None => self
                .server_name
                .insert(tls::server_name(&self.origin.host)?)
                .clone(),
        };
        match connector.handshake(server_name, stream).await {
            Ok(tls) => Ok(tls),
            Err(e) => Err(io_error(&self.origin, Phase::TlsHandshake, e)),
        }
    }

    async fn connect(&mut self) -> Result<TcpStream, Error> {
        if self.addrs.is_empty() {
            if let Some(reason) = &self.unresolved {
                return Err(Error::Resolve {
                    host: self.origin.host.clone(),
                    reason: reason.clone(),
                });
            }
            self.addrs = self.origin.resolve()?;
        }
        let timeout = self.config.connect_timeout;
        let mut last_error = None;
        for &addr in &self.addrs {
            let connected = if timeout.is_zero() {
                TcpStream::connect(addr).await
            } else {
                TcpStream::connect_timeout(addr, timeout).await
            };
            match connected {
                Ok(stream) => {
                    if self.config.nodelay {
                        stream
                            .set_nodelay(true)
                            .map_err(|e| Error::from_connect(addr, timeout, e))?;
                    }
                    return Ok(stream);
                }
                Err(e) => last_error = Some(Error::from_connect(addr, timeout, e)),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Resolve {
            host: self.origin.host.clone(),
            reason: "no addresses".to_owned(),
        }))
    }
}

/// Classifies an I/O error on a connection to `origin` (TLS failures by their own kinds).
fn io_error(origin: &Origin, phase: Phase, error: std::io::Error) -> Error {
    match origin.scheme {
        Scheme::Http => Error::from_io(phase, error),
        Scheme::Https => tls::classify(&origin.host_port(), phase, error),
    }
}
