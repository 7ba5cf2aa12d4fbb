//! Writing HTTP/1.1 responses into a byte buffer: status lines, the headers every response
//! carries, bodies, and the framing rules for HEAD, 204 and 304.

/// The fixed JSON body of `/` and `/json` (and of delayed replies).
pub const FIXED_JSON: &[u8] = br#"{"ok":true}"#;

/// The value of the `Server` header.
pub const SERVER: &str = "molotov-target";

/// How the response ends the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// Keep the connection open.
    KeepAlive,
    /// Keep it open for an HTTP/1.0 client that asked for keep-alive (says so in a header).
    KeepAlive10,
    /// Send `Connection: close` and close after writing.
    Close,
}

/// A response to append.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub extra: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl<'a> Reply<'a> {
    pub fn json(status: u16, body: &'a [u8]) -> Reply<'a> {
        Reply {
            status,
            content_type: Some("application/json"),
            extra: &[],
            body,
        }
    }

    pub fn empty(status: u16) -> Reply<'a> {
        Reply {
            status,
            content_type: None,
            extra: &[],
            body: b"",
        }
    }
}

/// Appends `reply` to `out`. `head_request`: send the headers (with the Content-Length the
/// body would have) but not the body. 1xx, 204 and 304 get neither Content-Length nor body.
pub fn append(out: &mut Vec<u8>, reply: &Reply<'_>, head_request: bool, persist: Persist) {
    append_head(out, reply.status, reply.content_type, reply.extra, persist);
    let bodiless = matches!(reply.status, 100..=199 | 204 | 304);
    if !bodiless {
        append_header_decimal(out, "Content-Length", reply.body.len() as u64);
    }
    out.extend_from_slice(b"\r\n");
    if !bodiless && !head_request {
        out.extend_from_slice(reply.body);
    }
}

/// Appends the status line and the common headers, without the final blank line.
pub fn append_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: Option<&str>,
    extra: &[(&str, &str)],
    persist: Persist,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(content_type) = content_type {
        append_header(out, "Content-Type", content_type.as_bytes());
    }
    for (name, value) in extra {
        append_header(out, name, value.as_bytes());
    }
    match persist {
        Persist::KeepAlive => {}
        Persist::KeepAlive10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persist::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
}

pub fn append_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

pub fn append_header_decimal(out: &mut Vec<u8>, name: &str, value: u64) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    push_decimal(out, value);
    out.extend_from_slice(b"\r\n");
}

pub fn push_decimal(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// The reason phrase of a status code ("Unknown" for unregistered codes).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        418 => "I'm a teapot",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(reply: Reply<'_>, head: bool, persist: Persist) -> String {
        let mut out = Vec::new();
        append(&mut out, &reply, head, persist);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn responses_are_framed() {
        let cases: &[(Reply<'_>, bool, Persist, &str)] = &[
            (
                Reply::json(200, b"{}"),
                false,
                Persist::KeepAlive,
                "HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            ),
            (
                Reply::json(200, b"{}"),
                true,
                Persist::Close,
                "HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
            ),
            (
                Reply::empty(204),
                false,
                Persist::KeepAlive10,
                "HTTP/1.1 204 No Content\r\nServer: molotov-target\r\nConnection: keep-alive\r\n\r\n",
            ),
            (
                Reply::json(304, b"ignored"),
                false,
                Persist::KeepAlive,
                "HTTP/1.1 304 Not Modified\r\nServer: molotov-target\r\nContent-Type: application/json\r\n\r\n",
            ),
            (
                Reply::empty(599),
                false,
                Persist::KeepAlive,
                "HTTP/1.1 599 Unknown\r\nServer: molotov-target\r\nContent-Length: 0\r\n\r\n",
            ),
        ];
        for (reply, head, persist, expected) in cases {
            assert_eq!(render(*reply, *head, *persist), *expected);
        }
    }
}
