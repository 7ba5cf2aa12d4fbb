//! Request rendering, table-driven: exact wire bytes for valid requests, and every
//! rejection (with the buffer left untouched).

use molotov_http::{DEFAULT_USER_AGENT, ErrorKind, Method, render_request};

/// Header fields as the renderer takes them.
type Headers<'a> = Vec<(&'a str, &'a [u8])>;
/// One valid case: method, authority, path, headers, body, the expected bytes.
type Valid<'a> = (Method, &'a str, &'a str, Headers<'a>, &'a [u8], String);
/// One invalid case: authority, path, headers, a part of the expected message.
type Invalid<'a> = (&'a str, &'a str, &'a [(&'a str, &'a [u8])], &'a str);

fn render(
    method: Method,
    authority: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<String, molotov_http::Error> {
    let mut out = Vec::new();
    render_request(
        &mut out,
        &method,
        authority,
        path,
        headers.iter().copied(),
        body,
    )?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn valid_requests_render_exactly() {
    let ua = format!("User-Agent: {DEFAULT_USER_AGENT}\r\n");
    let cases: Vec<Valid<'_>> = vec![
        (
            Method::GET,
            "example.com",
            "/",
            vec![],
            b"",
            format!("GET / HTTP/1.1\r\nHost: example.com\r\n{ua}\r\n"),
        ),
        (
            Method::GET,
            "h:8080",
            "/a/b?c=d&e=%20",
            vec![("Accept", b"application/json")],
            b"",
            format!(
                "GET /a/b?c=d&e=%20 HTTP/1.1\r\nHost: h:8080\r\nAccept: application/json\r\n{ua}\r\n"
            ),
        ),
        (
            Method::POST,
            "h",
            "/login",
            vec![("Content-Type", b"application/json")],
            br#"{"a":1}"#,
            format!(
                "POST /login HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n{ua}Content-Length: 7\r\n\r\n{{\"a\":1}}"
            ),
        ),
        // POST, PUT and PATCH always say their length, even when the body is empty.
        (
            Method::PUT,
            "h",
            "/x",
            vec![],
            b"",
            format!("PUT /x HTTP/1.1\r\nHost: h\r\n{ua}Content-Length: 0\r\n\r\n"),
        ),
        (
            Method::PATCH,
            "h",
            "/x",
            vec![],
            b"",
            format!("PATCH /x HTTP/1.1\r\nHost: h\r\n{ua}Content-Length: 0\r\n\r\n"),
        ),
        // Other methods only when they carry a body.
        (
            Method::DELETE,
            "h",
            "/x",
            vec![],
            b"",
            format!("DELETE /x HTTP/1.1\r\nHost: h\r\n{ua}\r\n"),
        ),
        (
            Method::DELETE,
            "h",
            "/x",
            vec![],
            b"abc",
            format!("DELETE /x HTTP/1.1\r\nHost: h\r\n{ua}Content-Length: 3\r\n\r\nabc"),
        ),
        // A caller's Host and User-Agent replace the defaults (any case).
        (
            Method::GET,
            "h",
            "/",
            vec![("host", b"other:1"), ("USER-AGENT", b"me/1")],
            b"",
            "GET / HTTP/1.1\r\nhost: other:1\r\nUSER-AGENT: me/1\r\n\r\n".to_owned(),
        ),
        // ... and goes first wherever it was given (RFC 9112 section 3.2; sweep 10: it was
        // sent after the headers given before it).
        (
            Method::GET,
            "h",
            "/",
            vec![
                ("Accept", b"*/*"),
                ("X-A", b"1"),
                ("Host", b"other:1"),
                ("X-B", b"2"),
            ],
            b"",
            format!(
                "GET / HTTP/1.1\r\nHost: other:1\r\nAccept: */*\r\nX-A: 1\r\nX-B: 2\r\n{ua}\r\n"
            ),
        ),
        (
            Method::OPTIONS,
            "h",
            "*",
            vec![],
            b"",
            format!("OPTIONS * HTTP/1.1\r\nHost: h\r\n{ua}\r\n"),
        ),
        (
            Method::from_bytes(b"PURGE").unwrap(),
            "[::1]:8080",
            "/cache",
            vec![("X-Empty", b"")],
            b"",
            format!("PURGE /cache HTTP/1.1\r\nHost: [::1]:8080\r\nX-Empty: \r\n{ua}\r\n"),
        ),
        (
            Method::HEAD,
            "h",
            "/",
            vec![("X-Tab", b"a\tb"), ("X-Utf8", "é".as_bytes())],
            b"",
            format!("HEAD / HTTP/1.1\r\nHost: h\r\nX-Tab: a\tb\r\nX-Utf8: é\r\n{ua}\r\n"),
        ),
    ];
    for (method, authority, path, headers, body, expected) in cases {
        let got = render(method.clone(), authority, path, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(got, expected, "{method} {path}");
    }
}

#[test]
fn invalid_requests_are_rejected_and_leave_the_buffer_alone() {
    let cases: &[Invalid<'_>] = &[
        ("h", "", &[], "must start with '/'"),
        ("h", "relative", &[], "must start with '/'"),
        ("h", "/a b", &[], "forbidden byte 0x20"),
        ("h", "/a\r\nX: y", &[], "forbidden byte 0x0d"),
        ("h", "/a\n", &[], "forbidden byte 0x0a"),
        ("h", "/\0", &[], "forbidden byte 0x00"),
        ("h", "/\x7f", &[], "forbidden byte 0x7f"),
        ("", "/", &[], "invalid authority"),
        ("h h", "/", &[], "invalid authority"),
        ("h\r\n", "/", &[], "invalid authority"),
        ("h", "/", &[("", b"v")], "invalid header name"),
        ("h", "/", &[("Bad Name", b"v")], "invalid header name"),
        ("h", "/", &[("Bad:Name", b"v")], "invalid header name"),
        ("h", "/", &[("X\r\nY", b"v")], "invalid header name"),
        (
            "h",
            "/",
            &[("X", b"a\r\nInjected: 1")],
            "forbidden byte 0x0d",
        ),
        ("h", "/", &[("X", b"a\nb")], "forbidden byte 0x0a"),
        ("h", "/", &[("X", b"a\0b")], "forbidden byte 0x00"),
        ("h", "/", &[("X", b"a\x01b")], "forbidden byte 0x01"),
        ("h", "/", &[("X", b"a\x1fb")], "forbidden byte 0x1f"),
        ("h", "/", &[("X", b"a\x7fb")], "forbidden byte 0x7f"),
        (
            "h",
            "/",
            &[("Content-Length", b"5")],
            "Content-Length is computed",
        ),
        (
            "h",
            "/",
            &[("transfer-encoding", b"chunked")],
            "Transfer-Encoding",
        ),
    ];
    for &(authority, path, headers, message) in cases {
        let mut out = b"previous bytes".to_vec();
        let error = render_request(
            &mut out,
            &Method::GET,
            authority,
            path,
            headers.iter().copied(),
            b"",
        )
        .expect_err(path);
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert!(
            error.to_string().contains(message),
            "{authority:?} {path:?} {headers:?}: {error}"
        );
        assert_eq!(out, b"previous bytes", "{path:?}: the buffer was modified");
    }
}

#[test]
fn rendering_appends_to_a_reused_buffer() {
    let mut out = Vec::new();
    let none: [(&str, &[u8]); 0] = [];
    render_request(&mut out, &Method::GET, "h", "/1", none, b"").unwrap();
    let first = out.len();
    render_request(&mut out, &Method::GET, "h", "/2", none, b"").unwrap();
    assert_eq!(out.len(), 2 * first);
    assert!(out[first..].starts_with(b"GET /2 HTTP/1.1\r\nHost: h\r\n"));
}
