//! One connection: read requests (pipelined ones too) into a reused buffer, parse them with
//! httparse, route them, write the replies in one write per batch, and count each reply
//! once its bytes were fully written.
//!
//! Limits: a request head over [`MAX_HEAD_BYTES`] gets 431, a body over [`MAX_BODY_BYTES`]
//! gets 413, a chunked request body gets 501, a malformed request 400; each of these closes
//! the connection. The buffers are bounded by those limits whatever a client sends.
//!
//! On a TLS server the connection starts with the handshake (counted, with whether it
//! resumed, once it succeeds; a failed one just closes), then runs the same loop over the
//! encrypted stream; closes the server decides on end with `close_notify`.

use std::mem::MaybeUninit;
use std::rc::Rc;

use futures_lite::AsyncReadExt;
use glommio::net::TcpStream;

use crate::hostile;
use crate::routes::{self, Action, After, Request};
use crate::server::ThreadContext;
use crate::stream::ServerStream;
use crate::tls::TlsFacts;
use crate::wire::{self, FIXED_JSON, Persist, Reply};

/// Largest request head accepted.
pub const MAX_HEAD_BYTES: usize = 64 << 10;
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Most header fields in a request.
const MAX_REQUEST_HEADERS: usize = 64;
/// Initial (and retained) size of the read and write buffers.
const BUFFER_BYTES: usize = 8 << 10;
/// Chunk of pattern bytes streamed by `/bytes/{n}`.
static PATTERN: [u8; 64 << 10] = {
    let mut pattern = [0u8; 64 << 10];
    let mut i = 0;
    while i < pattern.len() {
        pattern[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    pattern
};

/// What the connection loop does after handling the buffered requests.
#[derive(Debug)]
enum Step {
    /// Read more bytes (a request is incomplete or none is buffered).
    NeedMore { send_continue: bool },
    /// An action that needs waiting or streaming, for the request just parsed.
    Act {
        action: Action,
        persist: Persist,
        head: bool,
    },
    /// Write what is buffered, then close.
    Close,
}

/// A connection's state.
struct Connection {
    stream: ServerStream,
    /// What the TLS handshake negotiated (`None` on a plain server).
    tls: Option<TlsFacts>,
    /// The server chose to close (send `close_notify` on TLS), rather than the client
    /// leaving or a misbehaviour.
    graceful_close: bool,
    context: Rc<ThreadContext>,
    input: Vec<u8>,
    start: usize,
    end: usize,
    output: Vec<u8>,
    /// Counted replies in `output`, not yet written.
    pending: u64,
    /// In-flight slots held by replies in `output` (max_concurrency).
    held: usize,
    /// A `100 Continue` was sent for the request at `start`.
    continued: bool,
}

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(stream: TcpStream, context: Rc<ThreadContext>) {
    let (stream, tls) = match &context.tls {
        None => (ServerStream::Plain(stream), None),
        Some(config) => {
            let accepted = futures_rustls::TlsAcceptor::from(std::sync::Arc::clone(config))
                .accept(stream)
                .await;
            match accepted {
                Ok(stream) => {
                    let facts = TlsFacts::of(stream.get_ref().1);
                    context
                        .shared
                        .add_tls_handshake(context.index, facts.resumed);
                    (ServerStream::Tls(Box::new(stream)), Some(facts))
                }
                // The client gave up or rejected the certificate: nothing to serve.
                Err(_) => return,
            }
        }
    };
    let mut connection = Connection {
        stream,
        tls,
        graceful_close: false,
        context,
        input: vec![0; BUFFER_BYTES],
        start: 0,
        end: 0,
        output: Vec::with_capacity(BUFFER_BYTES),
        pending: 0,
        held: 0,
        continued: false,
    };
    connection.run().await;
    connection.release();
    if connection.graceful_close {
        connection.stream.close_notify().await;
    }
}

impl Connection {
    async fn run(&mut self) {
        loop {
            match self.process_buffered() {
                Step::NeedMore { send_continue } => {
                    if send_continue {
                        self.output
                            .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                    if !self.flush().await || !self.read_more().await {
                        return;
                    }
                }
                Step::Close => {
                    self.graceful_close = self.flush().await;
                    return;
                }
                Step::Act {
                    action,
                    persist,
                    head,
                } => {
                    if !self.act(action, persist, head).await {
                        return;
                    }
                }
            }
        }
    }

    /// Carries out an action; `false` when the connection must close.
    async fn act(&mut self, action: Action, persist: Persist, head: bool) -> bool {
        match action {
            Action::Replied { .. } => true,
            Action::Delay(delay) => {
                glommio::timer::sleep(delay).await;
                wire::append(
                    &mut self.output,
                    &Reply::json(200, FIXED_JSON),
                    head,
                    persist,
                );
                self.pending += 1;
                persist != Persist::Close || self.flush_then_close().await
            }
            Action::Bytes(n) => {
                if !self.flush().await {
                    return false;
                }
                let mut left = n;
                while left > 0 {
                    let take = left.min(PATTERN.len() as u64) as usize;
                    if self.stream.send_all(&PATTERN[..take]).await.is_err() {
                        return false;
                    }
                    left -= take as u64;
                    glommio::yield_if_needed().await;
                }
                self.pending += 1;
                if persist == Persist::Close {
                    return self.flush_then_close().await;
                }
                true
            }
            Action::Hostile(what) => {
                if !self.flush().await {
                    return false;
                }
                let outcome = hostile::misbehave(what, &mut self.stream).await;
                if outcome.counted {
                    self.context.shared.add_answered(self.context.index, 1);
                }
                self.release();
                outcome.keep_open
            }
        }
    }

    /// Writes the output and reports `false` so the caller closes.
    async fn flush_then_close(&mut self) -> bool {
        self.graceful_close = self.flush().await;
        false
    }

    /// Parses and answers every complete buffered request that needs no waiting.
    fn process_buffered(&mut self) -> Step {
        loop {
            let buffered = &self.input[self.start..self.end];
            if buffered.is_empty() {
                return Step::NeedMore {
                    send_continue: false,
                };
            }
            let mut headers = [const { MaybeUninit::uninit() }; MAX_REQUEST_HEADERS];
            let mut request = httparse::Request::new(&mut []);
            let head_len = match httparse::ParserConfig::default()
                .parse_request_with_uninit_headers(&mut request, buffered, &mut headers)
            {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) if buffered.len() >= MAX_HEAD_BYTES => {
                    return self.refuse(431);
                }
                Ok(httparse::Status::Partial) => {
                    return Step::NeedMore {
                        send_continue: false,
                    };
                }
                Err(httparse::Error::TooManyHeaders) => return self.refuse(431),
                Err(_) => return self.refuse(400),
            };
            if head_len > MAX_HEAD_BYTES {
                return self.refuse(431);
            }
            let mut body_len = 0usize;
            let mut close = false;
            let mut keep_alive = false;
            let mut expect_continue = false;
            for header in request.headers.iter() {
                let name = header.name;
                if name.eq_ignore_ascii_case("content-length") {
                    match parse_length(header.value) {
                        Some(length) if length <= MAX_BODY_BYTES as u64 => {
                            body_len = length as usize;
                        }
                        Some(_) => return self.refuse(413),
                        None => return self.refuse(400),
                    }
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return self.refuse(501);
                } else if name.eq_ignore_ascii_case("connection") {
                    for token in header.value.split(|&b| b == b',') {
                        let token = token.trim_ascii();
                        close |= token.eq_ignore_ascii_case(b"close");
                        keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                    }
                } else if name.eq_ignore_ascii_case("expect") {
                    expect_continue = header.value.eq_ignore_ascii_case(b"100-continue");
                }
            }
            let total = head_len + body_len;
            if buffered.len() < total {
                let send_continue = expect_continue && !self.continued;
                self.continued |= send_continue;
                self.make_room(total);
                return Step::NeedMore { send_continue };
            }
            let http10 = request.version == Some(0);
            let persist = if self.context.config.close_every_response || close {
                Persist::Close
            } else if http10 {
                if keep_alive {
                    Persist::KeepAlive10
                } else {
                    Persist::Close
                }
            } else {
                Persist::KeepAlive
            };
            let parsed = Request {
                method: request.method.unwrap_or(""),
                target: request.path.unwrap_or("/"),
                headers: request.headers,
                body: &buffered[head_len..total],
                tls: self.tls.as_ref(),
            };
            let head = parsed.is_head();
            self.start += total;
            self.continued = false;

            let max = self.context.config.max_concurrency;
            let action = if max.is_some_and(|max| !self.context.shared.try_enter(max)) {
                wire::append(
                    &mut self.output,
                    &Reply::json(503, br#"{"error":"too many requests in flight"}"#),
                    head,
                    persist,
                );
                Action::Replied {
                    counted: true,
                    after: After::Continue,
                }
            } else {
                if max.is_some() {
                    self.held += 1;
                }
                routes::route(&parsed, persist, &self.context.shared, &mut self.output)
            };
            match action {
                Action::Replied { counted, after } => {
                    self.pending += u64::from(counted);
                    // `CloseSilently` closes without having announced it in the reply.
                    if after != After::Continue || persist == Persist::Close {
                        return Step::Close;
                    }
                }
                other => {
                    return Step::Act {
                        action: other,
                        persist,
                        head,
                    };
                }
            }
        }
    }

    /// Appends an error reply that closes the connection.
    fn refuse(&mut self, status: u16) -> Step {
        let body: &[u8] = match status {
            413 => br#"{"error":"request body too large"}"#,
            431 => br#"{"error":"request head too large"}"#,
            501 => br#"{"error":"chunked request bodies are not supported"}"#,
            _ => br#"{"error":"malformed request"}"#,
        };
        wire::append(
            &mut self.output,
            &Reply::json(status, body),
            false,
            Persist::Close,
        );
        self.pending += 1;
        Step::Close
    }

    /// Ensures the input buffer can hold a request of `total` bytes from `start`.
    fn make_room(&mut self, total: usize) {
        if self.start + total > self.input.len() {
            self.compact();
            if total > self.input.len() {
                self.input.resize(total, 0);
            }
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Reads more input; `false` on EOF, error or idle timeout.
    async fn read_more(&mut self) -> bool {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.input.len() > BUFFER_BYTES {
                self.input.truncate(BUFFER_BYTES);
                self.input.shrink_to_fit();
            }
        }
        if self.end == self.input.len() {
            self.compact();
            if self.end == self.input.len() {
                // A head still incomplete: grow up to the head limit (process_buffered
                // refuses anything larger).
                let grown = (self.input.len() * 2).min(MAX_HEAD_BYTES + BUFFER_BYTES);
                if grown <= self.input.len() {
                    return false;
                }
                self.input.resize(grown, 0);
            }
        }
        let idle = self.start == self.end;
        let read = match (idle, self.context.config.idle_timeout) {
            (true, Some(timeout)) => {
                match glommio::future::timeout(
                    timeout,
                    self.stream.read(&mut self.input[self.end..]),
                )
                .await
                {
                    Ok(read) => read,
                    Err(_) => {
                        // The server closes an idle connection: politely, on TLS.
                        self.graceful_close = true;
                        return false;
                    }
                }
            }
            _ => self.stream.read(&mut self.input[self.end..]).await,
        };
        match read {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.end += n;
                true
            }
        }
    }

    /// Writes the buffered output and counts its replies; `false` on a write error.
    async fn flush(&mut self) -> bool {
        let ok = self.output.is_empty() || self.stream.send_all(&self.output).await.is_ok();
        if ok {
            self.context
                .shared
                .add_answered(self.context.index, self.pending);
        }
        self.pending = 0;
        self.release();
        self.output.clear();
        if self.output.capacity() > 4 * BUFFER_BYTES {
            self.output.shrink_to(BUFFER_BYTES);
        }
        ok
    }

    /// Gives back the in-flight slots held by this connection.
    fn release(&mut self) {
        self.context.shared.leave(self.held);
        self.held = 0;
    }
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}
