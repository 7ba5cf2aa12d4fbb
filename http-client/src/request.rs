//! Rendering a request into its wire bytes ([`render_request`]) and the facts about a
//! rendered request the client needs for framing and retries ([`RequestMeta`]).
//!
//! A request is rendered once when it is static, or into a reused buffer each time when it
//! is templated; either way the client sends the bytes as they are. Rendering validates
//! everything that could break the framing of the message (CR, LF, NUL, spaces where they
//! do not belong) and fails with [`Error::InvalidRequest`] instead of sending it.

use http::Method;

use crate::error::Error;

/// The `User-Agent` sent when the caller gives none.
pub const DEFAULT_USER_AGENT: &str = concat!("molotov/", env!("CARGO_PKG_VERSION"));

/// What the client must know about rendered request bytes it did not render itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestMeta {
    /// The method is HEAD: the response has no body whatever its headers say.
    pub head: bool,
    /// The method is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE): a request that died
    /// on a reused connection before any response byte may be sent again once.
    pub idempotent: bool,
    /// The request says `Connection: close`: the client closes the connection once its
    /// response is read and sends nothing more on it (RFC 9112 section 9.6), whatever the
    /// server answers. See [`asks_to_close`].
    pub closes: bool,
}

impl RequestMeta {
    /// The meta for a method (`closes` false: see [`RequestMeta::closing`]).
    pub fn for_method(method: &Method) -> RequestMeta {
        RequestMeta {
            closes: false,
            head: *method == Method::HEAD,
            idempotent: matches!(
                *method,
                Method::GET
                    | Method::HEAD
                    | Method::PUT
                    | Method::DELETE
                    | Method::OPTIONS
                    | Method::TRACE
            ),
        }
    }

    /// The same meta, saying whether the request closes its connection.
    pub fn closing(self, closes: bool) -> RequestMeta {
        RequestMeta { closes, ..self }
    }
}

/// Whether rendered request bytes carry a `Connection` header with the `close` option (names
/// and options compared without case; the option may be one of a list, `Connection: close,
/// TE`). Only the head is read, up to the blank line.
pub fn asks_to_close(request: &[u8]) -> bool {
    let mut lines = request.split(|&b| b == b'\n');
    // The request line.
    lines.next();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"connection")
            && value
                .split(|&b| b == b',')
                .any(|option| option.trim_ascii().eq_ignore_ascii_case(b"close"))
        {
            return true;
        }
    }
    false
}

/// Appends the complete wire bytes of a request to `out`.
///
/// The message is: the request line `METHOD path_and_query HTTP/1.1`, a `Host` header
/// (`authority`, or the first `Host` of `headers`, moved in front), the caller's headers in
/// order, `User-Agent:
/// molotov/<version>` unless `headers` has one, `Content-Length` when the body is non-empty
/// or the method is POST, PUT or PATCH, the blank line, then `body`.
///
/// Rejected with [`Error::InvalidRequest`] (and `out` left as it was):
/// - a path that does not start with `/` (or is not exactly `*`), or holds a space,
///   control character or DEL;
/// - an authority that is empty or holds a space, control character or DEL;
/// - a header name that is empty or not made of token characters;
/// - a header value holding a control character other than tab (CR, LF and NUL among
///   them) or DEL (RFC 9110 section 5.5);
/// - a `Content-Length` or `Transfer-Encoding` header from the caller: the length is always
///   computed from `body`, and chunked request bodies are not supported.
pub fn render_request<'h>(
    out: &mut Vec<u8>,
    method: &Method,
    authority: &str,
    path_and_query: &str,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    body: &[u8],
) -> Result<(), Error> {
    let start = out.len();
    let result = render_into(out, method, authority, path_and_query, headers, body);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn render_into<'h>(
    out: &mut Vec<u8>,
    method: &Method,
    authority: &str,
    path_and_query: &str,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    body: &[u8],
) -> Result<(), Error> {
    validate_path(path_and_query)?;
    if authority.is_empty() || !authority.bytes().all(is_visible) {
        return Err(invalid(format!("invalid authority {authority:?}")));
    }
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let host_at = out.len();

    let mut has_host = false;
    let mut has_user_agent = false;
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(invalid(format!("invalid header name {name:?}")));
        }
        if let Some(bad) = value
            .iter()
            .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(invalid(format!(
                "header {name:?} value holds a forbidden byte 0x{bad:02x} (a control character \
                 other than tab, or DEL)"
            )));
        }
        if name.eq_ignore_ascii_case("content-length") {
            return Err(invalid(
                "Content-Length is computed from the body; do not set it".to_owned(),
            ));
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(
                "Transfer-Encoding is not supported in requests".to_owned(),
            ));
        }
        let is_host = name.eq_ignore_ascii_case("host");
        has_user_agent |= name.eq_ignore_ascii_case("user-agent");
        let line_at = out.len();
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
        if is_host && !has_host {
            // The caller's own Host goes first too (RFC 9112 section 3.2), ahead of the
            // headers given before it.
            let line_len = out.len() - line_at;
            out[host_at..].rotate_right(line_len);
        }
        has_host |= is_host;
    }
    if !has_host {
        // Host goes first (RFC 9112 section 3.2); we only know it is missing once the
        // caller's headers are seen, so it is appended, then rotated in front of them (two
        // block moves, where a splice from an iterator moves byte by byte).
        let host_len = b"Host: ".len() + authority.len() + 2;
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(authority.as_bytes());
        out.extend_from_slice(b"\r\n");
        out[host_at..].rotate_right(host_len);
    }
    if !has_user_agent {
        out.extend_from_slice(b"User-Agent: ");
        out.extend_from_slice(DEFAULT_USER_AGENT.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let needs_length =
        !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if needs_length {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

fn validate_path(path: &str) -> Result<(), Error> {
    if path == "*" {
        return Ok(());
    }
    if !path.starts_with('/') {
        return Err(invalid(format!("the path {path:?} must start with '/'")));
    }
    if let Some(bad) = path.bytes().find(|&b| !is_visible(b)) {
        return Err(invalid(format!(
            "the path {path:?} holds a forbidden byte 0x{bad:02x} (space, control or DEL)"
        )));
    }
    Ok(())
}

/// Visible characters allowed in a request target or authority: anything but space,
/// controls and DEL (non-ASCII bytes pass through; servers decide what to make of them).
fn is_visible(byte: u8) -> bool {
    byte > b' ' && byte != 0x7f
}

/// RFC 9110 `tchar`.
pub(crate) const fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn push_decimal(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn invalid(message: String) -> Error {
    Error::InvalidRequest(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for value in [0u64, 7, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
        }
    }

    #[test]
    fn meta_for_methods() {
        let cases = [
            (Method::GET, false, true),
            (Method::HEAD, true, true),
            (Method::PUT, false, true),
            (Method::DELETE, false, true),
            (Method::OPTIONS, false, true),
            (Method::TRACE, false, true),
            (Method::POST, false, false),
            (Method::PATCH, false, false),
            (Method::CONNECT, false, false),
        ];
        for (method, head, idempotent) in cases {
            assert_eq!(
                RequestMeta::for_method(&method),
                RequestMeta {
                    head,
                    idempotent,
                    closes: false
                },
                "{method}"
            );
        }
    }

    #[test]
    fn a_close_option_is_found_in_the_head_only() {
        let cases: &[(&[u8], bool)] = &[
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                true,
            ),
            (b"GET / HTTP/1.1\r\nconnection:CLOSE\r\n\r\n", true),
            (
                b"GET / HTTP/1.1\r\nConnection: keep-alive, Close \r\n\r\n",
                true,
            ),
            (
                b"GET / HTTP/1.1\r\nConnection: TE\r\nConnection: close\r\n\r\n",
                true,
            ),
            (b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", false),
            (b"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", false),
            (b"GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n", false),
            (b"GET / HTTP/1.1\r\nX: Connection: close\r\n\r\n", false),
            // In the body, not the head.
            (
                b"POST / HTTP/1.1\r\nContent-Length: 19\r\n\r\nConnection: close\r\n",
                false,
            ),
            (b"GET /connection:close HTTP/1.1\r\n\r\n", false),
        ];
        for (bytes, closes) in cases {
            assert_eq!(
                asks_to_close(bytes),
                *closes,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
