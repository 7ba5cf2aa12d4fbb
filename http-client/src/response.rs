//! A sans-io, incremental HTTP/1.x response parser ([`ResponseParser`]) and the description
//! of what a caller needs from a response ([`ResponseNeeds`]).
//!
//! No sockets here: bytes go in with [`ResponseParser::feed`] in whatever pieces they
//! arrived, and the end of the stream with [`ResponseParser::feed_eof`]. That makes it
//! fuzzable and benchmarkable on its own.
//!
//! Framing (RFC 9112 section 6.3), in order:
//! 1. interim `1xx` responses (except `101`) are skipped (at most [`MAX_INTERIM`] of them);
//! 2. a response to HEAD, and any `101`, `204` or `304`, has no body whatever its headers say;
//! 3. `Transfer-Encoding` together with `Content-Length` is malformed; with `chunked` as its
//!    last coding the body is chunked (chunk extensions skipped, trailers parsed); with any
//!    other last coding the body runs until the server closes;
//! 4. `Content-Length` (repeated or comma-listed values must all be equal, digits only)
//!    gives the length;
//! 5. otherwise the body runs until the server closes.
//!
//! obs-fold (a field value continued on a line that starts with SP or HTAB) is accepted in
//! the head, and each fold is replaced by one SP before the value is read, for framing and
//! for the kept fields alike (RFC 9112 section 5.2, a user agent's MUST).
//!
//! Line endings: a bare LF ends a line wherever CRLF does (RFC 9112 section 2.2 lets a
//! recipient accept it), in the head (httparse's rule) and in every line of chunked
//! framing: the chunk-size line, the end of a chunk's data, trailer lines and the empty
//! line that ends the body. A CR not followed by LF is malformed at once.
//!
//! Memory is bounded by the caps in [`Limits`]: the head (and separately the trailer
//! section) never holds more than `max_header_bytes`, a kept body never more than
//! `max_body_bytes` (a declared length over it fails at once), and a body nobody asked for is
//! counted and dropped, never buffered. The body cap applies only to a kept body: a dropped
//! one holds no memory whatever its size (a download of any size can be measured), and an
//! endless one is ended by the caller's deadline.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use crate::error::Error;
use crate::head;

/// The most header fields accepted in one head (or one trailer section).
pub const MAX_HEADERS: usize = 128;

/// The most interim (1xx) responses skipped before the final one.
pub const MAX_INTERIM: usize = 8;

/// The longest chunk-size line accepted: its size and extensions, without the line ending.
pub const MAX_CHUNK_LINE: usize = 4096;

/// The most reserved up front for a kept body of declared length.
const INITIAL_BODY_RESERVE: usize = 64 << 10;

/// Kept buffers larger than this are released when the parser is reset, so one huge
/// response does not pin its memory for the life of the connection.
const RETAINED_CAPACITY: usize = 256 << 10;

/// Size caps protecting the client from hostile servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest response head (status line + headers + blank line), and separately the
    /// largest chunked trailer section. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Largest kept response body (one nobody asked for is counted and dropped, whatever its
    /// size). Default 16 MiB.
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 << 10,
            max_body_bytes: 16 << 20,
        }
    }
}

/// Which response headers the caller wants to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HeaderNeeds {
    /// None: the head is parsed for framing and dropped.
    #[default]
    None,
    /// These names (lowercase); the head is kept.
    Named(Vec<String>),
    /// All headers; the head is kept.
    All,
}

impl HeaderNeeds {
    /// Whether any header must be readable after the response.
    pub fn any(&self) -> bool {
        match self {
            HeaderNeeds::None => false,
            HeaderNeeds::Named(names) => !names.is_empty(),
            HeaderNeeds::All => true,
        }
    }
}

/// What the caller needs from a response; the client keeps nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseNeeds {
    /// Which headers to keep.
    pub headers: HeaderNeeds,
    /// Whether to keep the body.
    pub body: bool,
}

impl ResponseNeeds {
    /// Status only: headers and body are parsed for framing and dropped.
    pub const STATUS_ONLY: ResponseNeeds = ResponseNeeds {
        headers: HeaderNeeds::None,
        body: false,
    };

    /// Everything: all headers and the body.
    pub const EVERYTHING: ResponseNeeds = ResponseNeeds {
        headers: HeaderNeeds::All,
        body: true,
    };

    /// Status only (same as [`ResponseNeeds::STATUS_ONLY`]).
    pub const fn status_only() -> ResponseNeeds {
        Self::STATUS_ONLY
    }
}

/// The result of feeding bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// All bytes were consumed and the response is not complete yet.
    Partial,
    /// The response is complete after `consumed` bytes of this input; the rest (if any)
    /// does not belong to it.
    Complete {
        /// Bytes of the input that belong to this response.
        consumed: usize,
    },
}

/// A header field stored as ranges into the parser's head or trailer buffer.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length {
        remaining: u64,
    },
    ChunkSize {
        size: u64,
        digits: u8,
        line: usize,
        after_space: bool,
    },
    ChunkExtension {
        size: u64,
        line: usize,
    },
    /// A CR ended the chunk-size line: the LF must follow.
    ChunkSizeLf {
        size: u64,
    },
    ChunkData {
        remaining: u64,
    },
    /// After a chunk's data: its line ending (CRLF or a bare LF).
    ChunkDataEnd,
    /// A CR followed the chunk's data: the LF must follow.
    ChunkDataLf,
    Trailers,
    UntilClose,
    Done,
}

/// What the framing headers of one head said.
#[derive(Debug, Default, Clone)]
struct Framing {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    connection_close: bool,
    connection_keep_alive: bool,
}

/// An incremental HTTP/1.x response parser with reused buffers.
#[derive(Debug)]
pub struct ResponseParser {
    limits: Limits,
    head_request: bool,
    keep_headers: bool,
    keep_body: bool,
    state: State,
    /// A partial head being assembled, or the kept head of the final response.
    head: Vec<u8>,
    fields: Vec<Field>,
    trailer: Vec<u8>,
    trailer_fields: Vec<Field>,
    body: Vec<u8>,
    status: u16,
    minor_version: u8,
    keep_alive: bool,
    interim: usize,
    body_bytes: u64,
    received: u64,
}

impl ResponseParser {
    /// A parser with these caps, ready for a response with no special needs.
    pub fn new(limits: Limits) -> ResponseParser {
        ResponseParser {
            limits,
            head_request: false,
            keep_headers: false,
            keep_body: false,
            state: State::Head,
            head: Vec::new(),
            fields: Vec::new(),
            trailer: Vec::new(),
            trailer_fields: Vec::new(),
            body: Vec::new(),
            status: 0,
            minor_version: 1,
            keep_alive: false,
            interim: 0,
            body_bytes: 0,
            received: 0,
        }
    }

    /// The caps in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Prepares for the next response: `head_request` when the request was HEAD; the needs
    /// say what to keep. Buffers keep their capacity (up to a bound).
    pub fn reset(&mut self, head_request: bool, needs: &ResponseNeeds) {
        self.head_request = head_request;
        self.keep_headers = needs.headers.any();
        self.keep_body = needs.body;
        self.state = State::Head;
        clear_bounded(&mut self.head);
        clear_bounded(&mut self.trailer);
        clear_bounded(&mut self.body);
        self.fields.clear();
        self.trailer_fields.clear();
        self.status = 0;
        self.minor_version = 1;
        self.keep_alive = false;
        self.interim = 0;
        self.body_bytes = 0;
        self.received = 0;
    }

    /// Feeds the next bytes of the stream.
    ///
    /// After `Complete` or an error, call [`reset`](Self::reset) before the next response.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, Error> {
        let mut at = 0;
        while at < input.len() || self.state == State::Done {
            if self.state == State::Done {
                return Ok(Progress::Complete { consumed: at });
            }
            let used = self.step(&input[at..])?;
            at += used;
            self.received += used as u64;
        }
        if self.state == State::Done {
            return Ok(Progress::Complete { consumed: at });
        }
        Ok(Progress::Partial)
    }

    /// Tells the parser the server closed the stream. Completes a body that runs until
    /// close; anything else unfinished is [`Error::ClosedEarly`].
    pub fn feed_eof(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(Error::ClosedEarly {
                received: self.received,
            }),
        }
    }

    /// Whether a complete response has been parsed.
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the final response's head has been parsed (the status is known).
    pub fn head_complete(&self) -> bool {
        self.state != State::Head
    }

    /// Bytes fed since the last reset (including interim responses).
    pub fn received_bytes(&self) -> u64 {
        self.received
    }

    /// The final status code (0 before the head is complete).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The minor HTTP version of the response (`1` for HTTP/1.1, `0` for HTTP/1.0).
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// Whether the connection may carry another request after this response: HTTP/1.1
    /// without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`, and a body
    /// that does not run until close. Meaningful once complete.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Body bytes received (kept or dropped).
    pub fn body_len(&self) -> u64 {
        self.body_bytes
    }

    /// The kept body (empty unless the body was needed).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The first value of header `name` (ASCII case-insensitive), when headers were kept.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The kept header fields of the final head, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        fields_of(&self.head, &self.fields)
    }

    /// The kept trailer fields of a chunked body, in order.
    pub fn trailers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        fields_of(&self.trailer, &self.trailer_fields)
    }

    /// The first value of trailer field `name` (ASCII case-insensitive), when kept.
    pub fn trailer(&self, name: &str) -> Option<&[u8]> {
        self.trailers()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Bytes currently held in the parser's buffers (head, trailer, kept body): bounded by
    /// `2 * max_header_bytes + max_body_bytes`.
    pub fn buffered_bytes(&self) -> usize {
        self.head.len() + self.trailer.len() + self.body.len()
    }

    /// Advances by one step on `input` (non-empty), returning how many bytes it used.
    fn step(&mut self, input: &[u8]) -> Result<usize, Error> {
        match self.state {
            State::Head => self.feed_head(input),
            State::Length { remaining } => {
                let take = clamp(remaining, input.len());
                self.sink(&input[..take])?;
                let remaining = remaining - take as u64;
                self.state = if remaining == 0 {
                    State::Done
                } else {
                    State::Length { remaining }
                };
                Ok(take)
            }
            State::UntilClose => {
                self.sink(input)?;
                Ok(input.len())
            }
            State::ChunkData { remaining } => {
                let take = clamp(remaining, input.len());
                self.sink(&input[..take])?;
                let remaining = remaining - take as u64;
                self.state = if remaining == 0 {
                    State::ChunkDataEnd
                } else {
                    State::ChunkData { remaining }
                };
                Ok(take)
            }
            State::Trailers => self.feed_trailers(input),
            State::Done => Ok(0),
            _ => self.feed_chunk_byte(input[0]).map(|()| 1),
        }
    }

    /// The control bytes of chunked framing, one at a time.
    fn feed_chunk_byte(&mut self, byte: u8) -> Result<(), Error> {
        self.state = match self.state {
            State::ChunkSize {
                size,
                digits,
                line,
                after_space,
            } => {
                let line = line + usize::from(byte != b'\r' && byte != b'\n');
                if line > MAX_CHUNK_LINE {
                    return Err(malformed("chunk size line too long"));
                }
                match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' if !after_space => {
                        // The value must fit, not the digits: leading zeros are allowed.
                        if size >> 60 != 0 {
                            return Err(malformed("chunk size does not fit in 64 bits"));
                        }
                        State::ChunkSize {
                            size: size << 4 | hex_value(byte),
                            digits: digits.saturating_add(1),
                            line,
                            after_space,
                        }
                    }
                    b' ' | b'\t' if digits > 0 => State::ChunkSize {
                        size,
                        digits,
                        line,
                        after_space: true,
                    },
                    b';' if digits > 0 => State::ChunkExtension { size, line },
                    b'\r' if digits > 0 => State::ChunkSizeLf { size },
                    b'\n' if digits > 0 => self.after_chunk_size_line(size)?,
                    _ => return Err(malformed("invalid chunk size line")),
                }
            }
            State::ChunkExtension { size, line } => {
                let line = line + usize::from(byte != b'\r' && byte != b'\n');
                if line > MAX_CHUNK_LINE {
                    return Err(malformed("chunk size line too long"));
                }
                match byte {
                    b'\r' => State::ChunkSizeLf { size },
                    b'\n' => self.after_chunk_size_line(size)?,
                    0 => return Err(malformed("invalid byte in chunk extension")),
                    _ => State::ChunkExtension { size, line },
                }
            }
            State::ChunkSizeLf { size } => {
                if byte != b'\n' {
                    return Err(malformed("chunk size line not ended by CRLF or LF"));
                }
                self.after_chunk_size_line(size)?
            }
            State::ChunkDataEnd => match byte {
                b'\r' => State::ChunkDataLf,
                b'\n' => first_chunk_size(),
                _ => return Err(malformed("chunk data not followed by CRLF or LF")),
            },
            State::ChunkDataLf => {
                if byte != b'\n' {
                    return Err(malformed("chunk data not followed by CRLF or LF"));
                }
                first_chunk_size()
            }
            other => other,
        };
        Ok(())
    }

    /// The state after the line of a chunk of `size` bytes: its data, or the trailer section
    /// after the last chunk.
    fn after_chunk_size_line(&self, size: u64) -> Result<State, Error> {
        if size == 0 {
            return Ok(State::Trailers);
        }
        if self.keep_body && self.body_bytes.saturating_add(size) > self.limits.max_body_bytes {
            return Err(Error::BodyTooLarge {
                limit: self.limits.max_body_bytes,
            });
        }
        Ok(State::ChunkData { remaining: size })
    }

    /// Collects the trailer section up to its empty line (lines end with CRLF or a bare LF,
    /// as in the head) and parses it.
    ///
    /// httparse decides where the section ends and whether it is valid, on what has come so
    /// far, whenever a line ending (or a CR) arrives: it answers `Partial` only for a valid
    /// beginning of a section, so the parser waits for more only when more can complete it,
    /// and fails at once on bytes that no continuation could make valid.
    fn feed_trailers(&mut self, input: &[u8]) -> Result<usize, Error> {
        let old_len = self.trailer.len();
        // The usual case: no trailer fields, the empty line right after the last chunk.
        if old_len == 0 {
            let empty = match input {
                [b'\r', b'\n', ..] => 2,
                [b'\n', ..] => 1,
                _ => 0,
            };
            if empty > 0 {
                self.state = State::Done;
                return Ok(empty);
            }
        }
        let max = self.limits.max_header_bytes;
        let take = max.saturating_sub(old_len).min(input.len());
        self.trailer.extend_from_slice(&input[..take]);
        // A section can only end, or turn invalid, at a line feed or a carriage return (which
        // must be followed by a line feed): parse again only when one is among the new bytes
        // or ended the old ones.
        let line_end = self.trailer[old_len.saturating_sub(1)..]
            .iter()
            .any(|&b| b == b'\n' || b == b'\r');
        let parsed = if line_end {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            match httparse::parse_headers(&self.trailer, &mut headers) {
                Ok(httparse::Status::Complete((end, fields))) => {
                    if self.keep_headers {
                        let base = self.trailer.as_ptr();
                        self.trailer_fields
                            .extend(fields.iter().map(|h| field_of(base, h)));
                    }
                    Some(end)
                }
                Ok(httparse::Status::Partial) => None,
                // Among them more fields than the cap: malformed at once, as in the head (the
                // first cap a section passes is the one reported).
                Err(e) => return Err(malformed_trailer(&e)),
            }
        } else {
            None
        };
        let Some(end) = parsed else {
            if self.trailer.len() >= max {
                return Err(Error::TrailerTooLarge { limit: max });
            }
            return Ok(take);
        };
        if self.keep_headers {
            self.trailer.truncate(end);
        } else {
            self.trailer.clear();
        }
        self.state = State::Done;
        Ok(end - old_len)
    }

    /// Collects and parses a head; returns bytes used of `input`.
    fn feed_head(&mut self, input: &[u8]) -> Result<usize, Error> {
        let max = self.limits.max_header_bytes;
        if self.head.is_empty() {
            // Fast path: the whole head is in this input and nothing is buffered; the head
            // is copied only when its headers are wanted.
            let parsed = parse_head_memo(input, self.keep_headers, &mut self.fields)?;
            match parsed {
                Some(head) if head.len > max => Err(Error::HeaderTooLarge { limit: max }),
                Some(head) => {
                    if self.keep_headers && !is_interim(head.status) {
                        self.head.extend_from_slice(&input[..head.len]);
                    }
                    let len = head.len;
                    self.finish_head(head)?;
                    Ok(len)
                }
                None if input.len() >= max => Err(Error::HeaderTooLarge { limit: max }),
                None => {
                    self.head.extend_from_slice(input);
                    Ok(input.len())
                }
            }
        } else {
            let old_len = self.head.len();
            let take = max.saturating_sub(old_len).min(input.len());
            let added = &input[..take];
            self.head.extend_from_slice(added);
            // A head can only end at a line feed: skip re-parsing until one arrives.
            let parsed = if added.contains(&b'\n') {
                parse_head_memo(&self.head, self.keep_headers, &mut self.fields)?
            } else {
                None
            };
            match parsed {
                Some(head) => {
                    let len = head.len;
                    self.head.truncate(len);
                    if !self.keep_headers || is_interim(head.status) {
                        self.head.clear();
                    }
                    self.finish_head(head)?;
                    Ok(len - old_len)
                }
                None if self.head.len() >= max => Err(Error::HeaderTooLarge { limit: max }),
                None => Ok(take),
            }
        }
    }

    /// Decides the framing of the response whose head was just parsed.
    fn finish_head(&mut self, head: ParsedHead) -> Result<(), Error> {
        let ParsedHead {
            status,
            minor_version,
            framing,
            folded,
            ..
        } = head;
        self.status = status;
        self.minor_version = minor_version;
        if is_interim(status) {
            self.interim += 1;
            if self.interim > MAX_INTERIM {
                return Err(malformed("too many interim (1xx) responses"));
            }
            self.fields.clear();
            self.state = State::Head;
            return Ok(());
        }
        if folded && self.keep_headers {
            self.unfold_kept_fields();
        }
        self.keep_alive = if self.minor_version >= 1 {
            !framing.connection_close
        } else {
            framing.connection_keep_alive && !framing.connection_close
        };
        if self.head_request || matches!(status, 101 | 204 | 304) {
            if status == 101 {
                self.keep_alive = false;
            }
            self.state = State::Done;
            return Ok(());
        }
        if framing.transfer_encoding {
            if framing.content_length.is_some() {
                return Err(malformed(
                    "both Content-Length and Transfer-Encoding in a response",
                ));
            }
            if framing.chunked {
                // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has
                // faulty framing; read it, then close the connection.
                if self.minor_version == 0 {
                    self.keep_alive = false;
                }
                self.state = first_chunk_size();
            } else {
                self.keep_alive = false;
                self.state = State::UntilClose;
            }
            return Ok(());
        }
        match framing.content_length {
            Some(length) if self.keep_body && length > self.limits.max_body_bytes => {
                Err(Error::BodyTooLarge {
                    limit: self.limits.max_body_bytes,
                })
            }
            Some(0) => {
                self.state = State::Done;
                Ok(())
            }
            Some(length) => {
                if self.keep_body {
                    // A declared length is only a claim: reserve a bounded amount up front
                    // and let the buffer grow with the bytes that really arrive.
                    self.body.reserve(clamp(length, INITIAL_BODY_RESERVE));
                }
                self.state = State::Length { remaining: length };
                Ok(())
            }
            None => {
                self.keep_alive = false;
                self.state = State::UntilClose;
                Ok(())
            }
        }
    }

    /// Replaces each obs-fold in the values of the kept head's fields with one SP, in place
    /// (a value only gets shorter), as RFC 9112 section 5.2 asks of a user agent before it
    /// interprets a value. The head's bytes are the parser's own copy.
    fn unfold_kept_fields(&mut self) {
        for field in &mut self.fields {
            let (start, end) = (field.value.0 as usize, field.value.1 as usize);
            if let Some(value) = self.head.get_mut(start..end)
                && value.contains(&b'\n')
            {
                field.value.1 = field.value.0 + unfold(value) as u32;
            }
        }
    }

    /// Takes body bytes: counts them, and keeps them when asked, within the cap (a body that
    /// is not kept is dropped whatever its size).
    fn sink(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.body_bytes += bytes.len() as u64;
        if self.keep_body {
            if self.body_bytes > self.limits.max_body_bytes {
                return Err(Error::BodyTooLarge {
                    limit: self.limits.max_body_bytes,
                });
            }
            self.body.extend_from_slice(bytes);
        }
        Ok(())
    }
}

/// A parsed head: its length in bytes, status, version and framing headers.
#[derive(Debug, Clone)]
struct ParsedHead {
    len: usize,
    status: u16,
    minor_version: u8,
    framing: Framing,
    /// Some field value holds an obs-fold (only httparse accepts those): kept values must be
    /// unfolded ([`ResponseParser::unfold_kept_fields`]).
    folded: bool,
}

/// Heads a thread's parsers met lately. A server answers with the same head again and again,
/// byte for byte (until its `Date` field changes, once a second), and what [`parse_head`]
/// makes of a head depends on its bytes alone: input that starts with a head met before (up
/// to and including its empty line) takes that head's parse without parsing it again.
///
/// A server whose every head differs (a request id, a fresh cookie), or a plan that meets
/// more distinct heads in turn than the memo holds, would only pay for the memo: its compares
/// and a copy per response (measured: +777 instructions per response on nginx adding a
/// request id, against 4,312 for the whole request without the memo). After
/// [`MEMO_GIVE_UP`] misses in a row the memo rests for [`MEMO_REST`] heads (they are
/// parsed, not looked up), then tries again.
struct HeadMemo {
    entries: Vec<MemoEntry>,
    /// Where the last hit was (looked at first), and where the next miss goes.
    last_hit: usize,
    next: usize,
    /// Complete heads not found since the last hit.
    misses: u32,
    /// Heads still to parse without the memo.
    resting: u32,
}

struct MemoEntry {
    bytes: Vec<u8>,
    head: ParsedHead,
    /// The fields, when the parse that filled the entry kept them (`has_fields`).
    fields: Vec<Field>,
    has_fields: bool,
}

/// Heads remembered per thread (distinct heads a plan's requests get in turn).
const MEMO_ENTRIES: usize = 4;
/// Longer heads are not remembered.
const MEMO_MAX_HEAD: usize = 512;
/// Misses in a row after which the memo rests.
const MEMO_GIVE_UP: u32 = 64;
/// Heads parsed without the memo while it rests: its cost on heads that never repeat is then
/// about `MEMO_GIVE_UP / MEMO_REST` of a miss's per response.
const MEMO_REST: u32 = 4096;

thread_local! {
    static HEAD_MEMO: RefCell<HeadMemo> = const {
        RefCell::new(HeadMemo {
            entries: Vec::new(),
            last_hit: 0,
            next: 0,
            misses: 0,
            resting: 0,
        })
    };
}

/// What the memo holds of some input.
enum Lookup {
    /// The input starts with this remembered head.
    Hit(ParsedHead),
    /// The input starts with the head of this entry, remembered without the fields that are
    /// wanted now: parse it again, and the entry gets them.
    WithoutFields(usize),
    /// Not remembered.
    Miss,
    /// The memo rests (see [`HeadMemo`]): parse, and remember nothing.
    Resting,
}

/// [`parse_head`], answered from the thread's [`HeadMemo`] when `bytes` starts with a head
/// it holds, and remembered there otherwise (complete heads up to [`MEMO_MAX_HEAD`] bytes).
fn parse_head_memo(
    bytes: &[u8],
    keep: bool,
    fields: &mut Vec<Field>,
) -> Result<Option<ParsedHead>, Error> {
    let lookup = HEAD_MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if memo.resting > 0 {
            memo.resting -= 1;
            return Lookup::Resting;
        }
        let count = memo.entries.len();
        for i in 0..count {
            let index = (memo.last_hit + i) % count;
            let entry = &memo.entries[index];
            if !bytes.starts_with(&entry.bytes) {
                continue;
            }
            if keep {
                if !entry.has_fields {
                    return Lookup::WithoutFields(index);
                }
                fields.clear();
                fields.extend_from_slice(&entry.fields);
            }
            let head = entry.head.clone();
            memo.last_hit = index;
            memo.misses = 0;
            return Lookup::Hit(head);
        }
        Lookup::Miss
    });
    let found = match lookup {
        Lookup::Hit(head) => return Ok(Some(head)),
        Lookup::Resting => return parse_head(bytes, keep, fields),
        Lookup::WithoutFields(index) => Some(index),
        Lookup::Miss => None,
    };
    let parsed = parse_head(bytes, keep, fields)?;
    if let Some(head) = &parsed
        && head.len <= MEMO_MAX_HEAD
    {
        HEAD_MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            let index = match found {
                // The same bytes up to the same empty line: the same head, same length.
                Some(index) => index,
                None => {
                    memo.misses += 1;
                    if memo.misses >= MEMO_GIVE_UP {
                        memo.misses = 0;
                        memo.resting = MEMO_REST;
                        return;
                    }
                    if memo.entries.len() < MEMO_ENTRIES {
                        memo.entries.push(MemoEntry {
                            bytes: Vec::with_capacity(MEMO_MAX_HEAD),
                            head: head.clone(),
                            fields: Vec::new(),
                            has_fields: false,
                        });
                        memo.entries.len() - 1
                    } else {
                        let index = memo.next;
                        memo.next = (memo.next + 1) % MEMO_ENTRIES;
                        index
                    }
                }
            };
            let entry = &mut memo.entries[index];
            entry.bytes.clear();
            entry.bytes.extend_from_slice(&bytes[..head.len]);
            entry.head = head.clone();
            // Refilled in place: a miss costs a copy, not an allocation.
            entry.fields.clear();
            if keep {
                entry.fields.extend_from_slice(fields);
            }
            entry.has_fields = keep;
            memo.last_hit = index;
        });
    }
    Ok(parsed)
}

/// Parses a head from `bytes`: the fast path ([`crate::head`]) when the head has the common
/// shape, httparse otherwise. `Ok(None)` means more bytes are needed. When `keep`, the fields
/// are stored as ranges relative to the start of `bytes`.
///
/// Both paths report the same errors in the same order: the head's syntax, then the status
/// code's range, then the first framing field (in order) with a bad value.
fn parse_head(
    bytes: &[u8],
    keep: bool,
    fields: &mut Vec<Field>,
) -> Result<Option<ParsedHead>, Error> {
    fields.clear();
    let mut framing = Framing::default();
    let mut framing_error = None;
    let base = bytes.as_ptr();
    let fast = head::parse(bytes, MAX_HEADERS, |name, value| {
        if framing_error.is_none()
            && let Err(e) = framing.observe(name, value)
        {
            framing_error = Some(e);
        }
        if keep {
            fields.push(Field {
                name: range_of(base, name),
                value: range_of(base, value),
            });
        }
    });
    if let Some(head) = fast {
        check_status(head.status)?;
        if let Some(e) = framing_error {
            return Err(e);
        }
        return Ok(Some(ParsedHead {
            len: head.len,
            status: head.status,
            minor_version: head.minor_version,
            framing,
            folded: false,
        }));
    }
    fields.clear();
    parse_head_with_httparse(bytes, keep, fields)
}

/// [`parse_head`] by httparse, for the heads the fast path declines.
fn parse_head_with_httparse(
    bytes: &[u8],
    keep: bool,
    fields: &mut Vec<Field>,
) -> Result<Option<ParsedHead>, Error> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let len = match httparse_config().parse_response_with_uninit_headers(
        &mut response,
        bytes,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        // A TLS record where the status line should be: an `http://` URL for a TLS port.
        Err(httparse::Error::Version) if looks_like_tls(bytes) => {
            return Err(malformed(
                "the server answered with TLS (is this an https:// port? the URL says http://)",
            ));
        }
        // RFC 9110 section 2.5 would have a later HTTP/1 minor version read as 1.1; httparse
        // reads 1.0 and 1.1 only (as curl does). At least say what it is.
        Err(httparse::Error::Version) if later_http1(bytes) => {
            return Err(malformed(
                "an HTTP/1.x response past HTTP/1.1 (molotov reads HTTP/1.0 and 1.1)",
            ));
        }
        Err(e) => return Err(malformed_head(&e)),
    };
    let mut framing = Framing::default();
    let status = response.code.unwrap_or(0);
    check_status(status)?;
    let base = bytes.as_ptr();
    let mut folded = false;
    for header in response.headers.iter() {
        // A value holds a line feed only where it was folded (httparse takes nothing else).
        if header.value.contains(&b'\n') {
            folded = true;
            let mut value = header.value.to_vec();
            let len = unfold(&mut value);
            framing.observe(header.name.as_bytes(), &value[..len])?;
        } else {
            framing.observe(header.name.as_bytes(), header.value)?;
        }
        if keep {
            fields.push(field_of(base, header));
        }
    }
    Ok(Some(ParsedHead {
        len,
        status,
        minor_version: response.version.unwrap_or(1),
        framing,
        folded,
    }))
}

/// How httparse parses a response head here: its defaults (strict), but with obs-fold
/// (a field value continued on a line that starts with SP or HTAB) accepted, which RFC 9112
/// section 5.2 asks of a user agent; the folds are replaced by SP ([`unfold`]) before any
/// value is read.
pub(crate) fn httparse_config() -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    config.allow_obsolete_multiline_headers_in_responses(true);
    config
}

/// Replaces each obs-fold in `value` (a run of SP, HTAB, CR and LF that holds a line ending)
/// with one SP, in place, and returns the new length. Other whitespace stays as it is.
fn unfold(value: &mut [u8]) -> usize {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let (mut from, mut to) = (0, 0);
    while from < value.len() {
        let run = value[from..].iter().take_while(|&&b| is_space(b)).count();
        if run == 0 {
            value[to] = value[from];
            (from, to) = (from + 1, to + 1);
            continue;
        }
        if value[from..from + run]
            .iter()
            .any(|&b| b == b'\n' || b == b'\r')
        {
            value[to] = b' ';
            to += 1;
        } else {
            value.copy_within(from..from + run, to);
            to += run;
        }
        from += run;
    }
    to
}

fn check_status(status: u16) -> Result<(), Error> {
    if (100..=999).contains(&status) {
        Ok(())
    } else {
        Err(malformed("status code out of range"))
    }
}

impl Framing {
    /// Takes note of one header field, if it is one of the framing fields. `name` is a token
    /// and `value` holds no CR or LF (as in any parsed head).
    #[inline]
    fn observe(&mut self, name: &[u8], value: &[u8]) -> Result<(), Error> {
        // Most fields are told apart by their length alone.
        if matches!(name.len(), 10 | 14 | 17) {
            self.observe_framing(name, value)
        } else {
            Ok(())
        }
    }

    fn observe_framing(&mut self, name: &[u8], value: &[u8]) -> Result<(), Error> {
        match name.len() {
            14 if eq_folded(name, b"content-length") => {
                let length = parse_content_length(value)?;
                match self.content_length {
                    Some(previous) if previous != length => {
                        return Err(malformed("conflicting Content-Length values"));
                    }
                    _ => self.content_length = Some(length),
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.transfer_encoding = true;
                // Only the last coding of the last field decides whether the body is chunked.
                if let Some(last) = value
                    .split(|&b| b == b',')
                    .map(trim)
                    .rfind(|coding| !coding.is_empty())
                {
                    self.chunked = last.eq_ignore_ascii_case(b"chunked");
                }
            }
            10 if eq_folded(name, b"connection") => {
                if eq_folded(value, b"keep-alive") {
                    self.connection_keep_alive = true;
                    return Ok(());
                }
                for token in value.split(|&b| b == b',').map(trim) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.connection_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.connection_keep_alive = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether `bytes` is `lower` (lowercase letters and `-`, 8 to 16 bytes) in any case, for
/// `bytes` without a CR: setting bit 0x20 of each byte maps only `A`-`Z` onto `a`-`z`, and
/// only CR onto `-`. Two overlapping words instead of a loop over the bytes.
fn eq_folded(bytes: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = u64::from_ne_bytes([0x20; 8]);
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map(u64::from_ne_bytes)
    };
    let n = lower.len();
    debug_assert!((8..=16).contains(&n));
    bytes.len() == n
        && word(bytes, 0).map(|w| w | CASE) == word(lower, 0)
        && word(bytes, n - 8).map(|w| w | CASE) == word(lower, n - 8)
}

fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

fn first_chunk_size() -> State {
    State::ChunkSize {
        size: 0,
        digits: 0,
        line: 0,
        after_space: false,
    }
}

fn field_of(base: *const u8, header: &httparse::Header<'_>) -> Field {
    Field {
        name: range_of(base, header.name.as_bytes()),
        value: range_of(base, header.value),
    }
}

/// Where `part`, a subslice of the buffer starting at `base`, lies in it.
fn range_of(base: *const u8, part: &[u8]) -> (u32, u32) {
    let start = (part.as_ptr() as usize - base as usize) as u32;
    (start, start + part.len() as u32)
}

fn fields_of<'a>(
    buffer: &'a [u8],
    fields: &'a [Field],
) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
    fields.iter().filter_map(move |field| {
        let name = buffer.get(field.name.0 as usize..field.name.1 as usize)?;
        let value = buffer.get(field.value.0 as usize..field.value.1 as usize)?;
        // httparse only accepts token characters in names, so this always succeeds.
        Some((std::str::from_utf8(name).ok()?, value))
    })
}

/// Parses a Content-Length value: digits, or a comma list of equal digit strings.
fn parse_content_length(value: &[u8]) -> Result<u64, Error> {
    // The common case: one value of up to 19 digits, which cannot overflow.
    if (1..=19).contains(&value.len()) && value.iter().all(u8::is_ascii_digit) {
        return Ok(value
            .iter()
            .fold(0, |length, &digit| length * 10 + u64::from(digit - b'0')));
    }
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',').map(trim) {
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(malformed("invalid Content-Length"));
        }
        let mut length: u64 = 0;
        for &digit in part {
            length = length
                .checked_mul(10)
                .and_then(|l| l.checked_add(u64::from(digit - b'0')))
                .ok_or_else(|| malformed("Content-Length does not fit in 64 bits"))?;
        }
        match result {
            Some(previous) if previous != length => {
                return Err(malformed("conflicting Content-Length values"));
            }
            _ => result = Some(length),
        }
    }
    result.ok_or_else(|| malformed("invalid Content-Length"))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

fn hex_value(byte: u8) -> u64 {
    match byte {
        b'0'..=b'9' => u64::from(byte - b'0'),
        b'a'..=b'f' => u64::from(byte - b'a' + 10),
        _ => u64::from(byte - b'A' + 10),
    }
}

fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

fn clear_bounded(buffer: &mut Vec<u8>) {
    buffer.clear();
    if buffer.capacity() > RETAINED_CAPACITY {
        buffer.shrink_to(RETAINED_CAPACITY);
    }
}

fn malformed(what: &'static str) -> Error {
    Error::MalformedResponse(what)
}

fn malformed_head(error: &httparse::Error) -> Error {
    malformed(match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending in the head",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token in the head",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "invalid HTTP version (not an HTTP/1.x response)",
    })
}

/// Whether `bytes` start like a TLS record (an alert or a handshake, TLS 1.0 to 1.3): what
/// a TLS server answers to a plain HTTP request.
/// A status line of HTTP/1.2 to HTTP/1.9.
fn later_http1(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            b'2'..=b'9',
            b' ',
            ..
        ]
    )
}

fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}

fn malformed_trailer(error: &httparse::Error) -> Error {
    malformed(match error {
        httparse::Error::TooManyHeaders => "too many trailer fields",
        _ => "invalid trailer field",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::{any, prop_assert_eq, proptest};

    /// `parse_head` (fast path first) and httparse alone, on the same bytes: the same result,
    /// the same error, and the same kept fields. Returns whether the head parsed.
    fn both_agree(head: &[u8]) -> bool {
        let mut parsed = false;
        for keep in [false, true] {
            let (mut fast_fields, mut slow_fields) = (Vec::new(), Vec::new());
            let fast = parse_head(head, keep, &mut fast_fields);
            let slow = parse_head_with_httparse(head, keep, &mut slow_fields);
            let text = String::from_utf8_lossy(head);
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "on {text:?}");
            if let Ok(Some(_)) = fast {
                assert_eq!(
                    format!("{fast_fields:?}"),
                    format!("{slow_fields:?}"),
                    "on {text:?}"
                );
                parsed = true;
            }
        }
        parsed
    }

    #[test]
    fn unfold_replaces_each_fold_with_one_space() {
        for (value, unfolded) in [
            (&b"a\r\n b"[..], &b"a b"[..]),
            (b"a\r\n  b", b"a b"),
            (b"a \t\r\n\t b", b"a b"),
            (b"a\n b", b"a b"),
            (b"a  \r\n \r\n there", b"a there"),
            (b"a\r\n b\n\tc", b"a b c"),
            (b"a  b\tc", b"a  b\tc"),
            (b"", b""),
        ] {
            let mut bytes = value.to_vec();
            let len = unfold(&mut bytes);
            assert_eq!(
                &bytes[..len],
                unfolded,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn content_lengths_at_the_edge_of_the_quick_case_agree() {
        for (value, length) in [
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("00000000000000000000012", Some(12)),
            ("12, 12", Some(12)),
            ("", None),
        ] {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
            let mut fields = Vec::new();
            let found = parse_head(head.as_bytes(), false, &mut fields)
                .ok()
                .flatten()
                .and_then(|head| head.framing.content_length);
            assert_eq!(found, length, "{value:?}");
            both_agree(head.as_bytes());
        }
    }

    #[test]
    fn eq_folded_is_eq_ignore_ascii_case_for_names_and_values() {
        for lower in [&b"content-length"[..], b"connection", b"keep-alive"] {
            for position in 0..lower.len() {
                for byte in (0..=255u8).filter(|&b| b != b'\r') {
                    let mut bytes = lower.to_vec();
                    bytes[position] = byte;
                    assert_eq!(
                        eq_folded(&bytes, lower),
                        bytes.eq_ignore_ascii_case(lower),
                        "{bytes:?}"
                    );
                }
            }
            assert!(!eq_folded(&lower[1..], lower));
        }
    }

    #[test]
    fn a_tls_record_for_a_status_line_names_tls() {
        let mut fields = Vec::new();
        // A TLS 1.2 alert (what a TLS server answers to plain HTTP) and a handshake record.
        for bytes in [
            &b"\x15\x03\x03\x00\x02\x02\x46"[..],
            b"\x16\x03\x01\x00\x2a\x02\x00",
        ] {
            let error = parse_head(bytes, false, &mut fields).unwrap_err();
            assert!(
                error.to_string().contains("is this an https:// port?"),
                "{error}"
            );
        }
        // Other bytes that are not HTTP keep the general message.
        for bytes in [&b"\x15\x05\x03\x00"[..], b"SSH-2.0-OpenSSH\r\n\r\n"] {
            let error = parse_head(bytes, false, &mut fields).unwrap_err();
            assert!(
                error.to_string().contains("not an HTTP/1.x response"),
                "{error}"
            );
        }
    }

    #[test]
    fn errors_come_in_httparse_s_order() {
        let cases: &[&[u8]] = &[
            // The status range before any framing field.
            b"HTTP/1.1 099 Low\r\nContent-Length: x\r\n\r\n",
            // The head's syntax before any framing field.
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\nBad Name: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\nX: \x7f\r\n\r\n",
            // The first bad framing field, in order.
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        ];
        for case in cases {
            assert!(!both_agree(case));
        }
    }

    #[test]
    fn every_byte_in_every_position_of_a_framing_head_agrees() {
        let base = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nTransfer-Encoding: gzip, chunked\r\nConnection: Keep-Alive, close\r\nCONNECTION: keep-alive\r\n\r\n";
        let (mut parsed, mut fast) = (0, 0);
        for position in 0..base.len() {
            for byte in 0..=255u8 {
                let mut head = base.to_vec();
                head[position] = byte;
                parsed += usize::from(both_agree(&head));
                fast += usize::from(head::parse(&head, MAX_HEADERS, |_, _| {}).is_some());
            }
        }
        // Most variants that parse at all take the fast path (the rest are the ones with
        // bytes it leaves to httparse); it is the fast path that is under test here.
        assert!(parsed > 10_000, "only {parsed} variants parsed");
        assert!(
            fast * 10 > parsed * 9,
            "{fast} of {parsed} parsed on the fast path"
        );
        // The plain head parses (it has both framings, so it is malformed as a whole only in
        // finish_head, not here).
        assert!(both_agree(base));
    }

    /// A complete head whose `X-Id` field is `id`.
    fn head_with_id(id: usize) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nX-Id: {id:08}\r\nContent-Length: 2\r\n\r\nok").into_bytes()
    }

    /// The memo's parse of `bytes` is the parser's, fields included.
    fn memo_agrees(bytes: &[u8]) {
        let (mut memo_fields, mut fields) = (Vec::new(), Vec::new());
        let memo = parse_head_memo(bytes, true, &mut memo_fields);
        let plain = parse_head(bytes, true, &mut fields);
        assert_eq!(format!("{memo:?}"), format!("{plain:?}"));
        assert_eq!(format!("{memo_fields:?}"), format!("{fields:?}"));
        assert!(matches!(memo, Ok(Some(_))), "a complete head: {memo:?}");
    }

    fn memo_state() -> (usize, u32, u32) {
        HEAD_MEMO.with(|memo| {
            let memo = memo.borrow();
            (memo.entries.len(), memo.misses, memo.resting)
        })
    }

    #[test]
    fn heads_that_never_repeat_send_the_memo_to_rest_and_it_comes_back() {
        // Each test runs on a thread of its own: the thread's memo starts empty.
        for id in 0..MEMO_GIVE_UP as usize - 1 {
            memo_agrees(&head_with_id(id));
        }
        assert_eq!(memo_state().1, MEMO_GIVE_UP - 1);
        memo_agrees(&head_with_id(1_000_000));
        assert_eq!(
            memo_state().2,
            MEMO_REST,
            "the memo rests after {MEMO_GIVE_UP} misses"
        );
        // Resting, it looks nothing up and remembers nothing, and parses stay right.
        for round in 0..MEMO_REST as usize {
            memo_agrees(&head_with_id(round % 3));
        }
        assert_eq!(memo_state().2, 0);
        // Back: a head met twice is a hit (a miss would count).
        let repeated = head_with_id(7);
        memo_agrees(&repeated);
        let misses = memo_state().1;
        memo_agrees(&repeated);
        assert_eq!(memo_state().1, 0, "a hit clears the misses (were {misses})");
    }

    #[test]
    fn a_hit_between_misses_keeps_the_memo_working() {
        for round in 0..3 {
            let mut last = Vec::new();
            for id in 1..MEMO_GIVE_UP as usize {
                last = head_with_id(round * 1000 + id);
                memo_agrees(&last);
            }
            assert_eq!(
                memo_state(),
                (MEMO_ENTRIES, MEMO_GIVE_UP - 1, 0),
                "round {round}"
            );
            // The last head is still remembered: a hit, which clears the misses.
            memo_agrees(&last);
            assert_eq!(memo_state(), (MEMO_ENTRIES, 0, 0), "round {round}");
        }
    }

    /// A head built from parts that the memo's keys could confuse: heads that share a
    /// prefix, end with CRLF or bare LF, stop short of their empty line, or differ in one
    /// byte.
    fn memo_head(parts: &[u8], mutate: Option<(usize, u8)>, cut: Option<usize>) -> Vec<u8> {
        const LINES: [&str; 8] = [
            "Content-Length: 2",
            "Content-Length: 12",
            "Transfer-Encoding: chunked",
            "Connection: close",
            "Connection: keep-alive",
            "X-A: b",
            "Content-Type: text/plain",
            "Content-Length: x",
        ];
        let (status, rest) = parts.split_first().unwrap_or((&0, &[]));
        let mut head = match status % 4 {
            0 => "HTTP/1.1 200 OK".to_owned(),
            1 => "HTTP/1.0 204 No Content".to_owned(),
            2 => "HTTP/1.1 100 Continue".to_owned(),
            _ => "HTTP/1.1 404 Not Found".to_owned(),
        };
        let eol = if status & 4 == 0 { "\r\n" } else { "\n" };
        for part in rest {
            head.push_str(eol);
            head.push_str(LINES[usize::from(*part) % LINES.len()]);
        }
        head.push_str(eol);
        head.push_str(eol);
        let mut bytes = head.into_bytes();
        if let Some((at, byte)) = mutate {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        bytes
    }

    proptest! {
        /// The memo never answers other than the parser: a sequence of heads from a small
        /// pool (so that the memo hits, misses, fills, evicts and rests), each with what
        /// follows it, asked with and without the fields.
        #[test]
        fn the_memo_answers_as_the_parser_does(
            pool in vec(
                (
                    vec(any::<u8>(), 1..6),
                    option::of((any::<usize>(), any::<u8>())),
                    option::weighted(0.2, any::<usize>()),
                ),
                1..8,
            ),
            picks in vec(
                (any::<usize>(), any::<bool>(), 0..3usize),
                1..200,
            ),
        ) {
            let heads: Vec<Vec<u8>> = pool
                .iter()
                .map(|(parts, mutate, cut)| memo_head(parts, *mutate, *cut))
                .collect();
            const TAILS: [&[u8]; 3] = [b"", b"ok", b"HTTP/1.1 200 OK\r\n\r\n"];
            for (pick, keep, tail) in picks {
                let mut input = heads[pick % heads.len()].clone();
                input.extend_from_slice(TAILS[tail]);
                let (mut memo_fields, mut fields) = (Vec::new(), Vec::new());
                let memo = parse_head_memo(&input, keep, &mut memo_fields);
                let plain = parse_head(&input, keep, &mut fields);
                let text = String::from_utf8_lossy(&input);
                prop_assert_eq!(format!("{memo:?}"), format!("{plain:?}"), "on {:?}", text);
                if let Ok(Some(_)) = plain {
                    prop_assert_eq!(
                        format!("{memo_fields:?}"),
                        format!("{fields:?}"),
                        "on {:?} (keep {})", text, keep
                    );
                }
            }
        }
    }
}
