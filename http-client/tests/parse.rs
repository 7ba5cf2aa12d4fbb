//! Response parsing, table-driven: every case is parsed in one piece, split in two at every
//! byte, and fed one byte at a time; all must agree (same result or same error kind).

use molotov_http::{
    Error, ErrorKind, HeaderNeeds, Limits, Progress, ResponseNeeds, ResponseParser,
};

/// What a successful parse produced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    status: u16,
    body: Vec<u8>,
    body_len: u64,
    keep_alive: bool,
    /// Input bytes that belonged to the response.
    consumed: usize,
    headers: Vec<(String, Vec<u8>)>,
    trailers: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    head_request: bool,
    eof: bool,
    limits: Limits,
}

const PLAIN: Setup = Setup {
    head_request: false,
    eof: false,
    limits: Limits {
        max_header_bytes: 64 << 10,
        max_body_bytes: 16 << 20,
    },
};

/// Feeds `input` cut at `cuts`, then EOF if the setup says so.
fn drive(input: &[u8], cuts: &[usize], setup: Setup) -> Result<Parsed, Error> {
    let mut parser = ResponseParser::new(setup.limits);
    parser.reset(setup.head_request, &ResponseNeeds::EVERYTHING);
    let mut offset = 0;
    let mut consumed = None;
    let mut bounds: Vec<usize> = cuts.to_vec();
    bounds.push(input.len());
    for &end in &bounds {
        let piece = &input[offset..end];
        match parser.feed(piece)? {
            Progress::Complete { consumed: used } => {
                consumed = Some(offset + used);
                break;
            }
            Progress::Partial => offset = end,
        }
    }
    let consumed = match consumed {
        Some(consumed) => consumed,
        None if setup.eof => {
            parser.feed_eof()?;
            input.len()
        }
        None => panic!(
            "incomplete without EOF: {:?}",
            String::from_utf8_lossy(input)
        ),
    };
    let own = |(name, value): (&str, &[u8])| (name.to_owned(), value.to_vec());
    Ok(Parsed {
        status: parser.status(),
        body: parser.body().to_vec(),
        body_len: parser.body_len(),
        keep_alive: parser.keep_alive(),
        consumed,
        headers: parser.headers().map(own).collect(),
        trailers: parser.trailers().map(own).collect(),
    })
}

/// Runs `input` whole, at every two-way split and byte by byte; all must agree.
fn parse_all_ways(input: &[u8], setup: Setup) -> Result<Parsed, ErrorKind> {
    let whole = drive(input, &[], setup).map_err(|e| e.kind());
    for cut in 1..input.len() {
        let split = drive(input, &[cut], setup).map_err(|e| e.kind());
        assert_eq!(
            split,
            whole,
            "split at {cut}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let bytes: Vec<usize> = (1..input.len()).collect();
    let one_by_one = drive(input, &bytes, setup).map_err(|e| e.kind());
    assert_eq!(
        one_by_one,
        whole,
        "byte by byte: {:?}",
        String::from_utf8_lossy(input)
    );
    whole
}

struct Good {
    input: &'static [u8],
    setup: Setup,
    status: u16,
    body: &'static [u8],
    keep_alive: bool,
    /// Bytes of the input that belong to the response (`None`: all of them).
    consumed: Option<usize>,
}

fn good(input: &'static [u8], status: u16, body: &'static [u8], keep_alive: bool) -> Good {
    Good {
        input,
        setup: PLAIN,
        status,
        body,
        keep_alive,
        consumed: None,
    }
}

#[test]
fn well_formed_responses() {
    let head = Setup {
        head_request: true,
        ..PLAIN
    };
    let eof = Setup { eof: true, ..PLAIN };
    let cases = vec![
        good(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello", true),
        good(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, b"", true),
        good(b"HTTP/1.1 404 Not Found\r\ncontent-length:  3 \r\n\r\nnot", 404, b"not", true),
        good(b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", 200, b"x", true),
        good(b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, b"x", true),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=\"d\"\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            200,
            b"hello world",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA \r\n0123456789\r\n0\r\nX-Sum: 45\r\nX-Two: 2\r\n\r\n",
            200,
            b"0123456789",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            200,
            b"abc",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000\r\n\r\n",
            200,
            b"",
            true,
        ),
        // A size's value must fit in 64 bits, not its digits (sweep 10: 17 digits of value 5
        // were "too large").
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
            200,
            b"hello",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000000000000000000000000000000005\r\nhello\r\n0\r\n\r\n",
            200,
            b"hello",
            true,
        ),
        // RFC 9112 section 6.1: HTTP/1.0 with Transfer-Encoding is read, then the connection
        // is closed (sweep 10: it was kept).
        good(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            200,
            b"ok",
            false,
        ),
        // Chunked framing takes a bare LF wherever it takes CRLF (RFC 9112 section 2.2), as
        // the head does: the size line, the end of the data, trailer lines, the empty line.
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
            200,
            b"hello",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n",
            200,
            b"hello",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\n\r\n",
            200,
            b"hello",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\n\n",
            200,
            b"hello",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\r\nX-U: b\n\n",
            200,
            b"hello",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\nhello\n6 \n world\r\n0;last\n\r\n",
            200,
            b"hello world",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nok\n0\n\n",
            200,
            b"ok",
            true,
        ),
        // What follows a bare-LF end is not taken (the next response, pipelined or stray).
        Good {
            consumed: Some(55),
            ..good(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\n\nHTTP/1.1 200 OK\r\n",
                200,
                b"ok",
                true,
            )
        },
        Good {
            consumed: Some(62),
            ..good(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\nX-T: a\n\nHTTP/1.1 200 OK\r\n",
                200,
                b"ok",
                true,
            )
        },
        Good {
            setup: eof,
            ..good(b"HTTP/1.1 200 OK\r\n\r\nuntil close", 200, b"until close", false)
        },
        Good {
            setup: eof,
            ..good(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw",
                200,
                b"raw",
                false,
            )
        },
        good(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", false),
        good(
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            true,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            false,
        ),
        // HTTP/1.0: `close` wins over `keep-alive` in the same field (RFC 9112 9.6).
        good(
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            false,
        ),
        good(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nhello",
            200,
            b"hello",
            true,
        ),
        // Bodiless by status or by request method, whatever the headers say.
        Good {
            setup: head,
            ..good(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 200, b"", true)
        },
        Good {
            setup: head,
            ..good(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                200,
                b"",
                true,
            )
        },
        good(b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 204, b"", true),
        good(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 304, b"", true),
        good(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 101, b"", false),
        // Interim responses are skipped.
        good(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            200,
            b"ok",
            true,
        ),
        good(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            201,
            b"",
            true,
        ),
        // Bytes after the response are not consumed.
        Good {
            consumed: Some(39),
            ..good(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n",
                200,
                b"x",
                true,
            )
        },
        Good {
            consumed: Some(43),
            ..good(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, world",
                200,
                b"hello",
                true,
            )
        },
    ];
    for case in cases {
        let name = String::from_utf8_lossy(case.input).into_owned();
        let parsed = parse_all_ways(case.input, case.setup)
            .unwrap_or_else(|kind| panic!("{name:?}: {kind}"));
        assert_eq!(parsed.status, case.status, "{name:?}");
        assert_eq!(parsed.body, case.body, "{name:?}");
        assert_eq!(parsed.body_len, case.body.len() as u64, "{name:?}");
        assert_eq!(parsed.keep_alive, case.keep_alive, "{name:?}");
        assert_eq!(
            parsed.consumed,
            case.consumed.unwrap_or(case.input.len()),
            "{name:?}"
        );
    }
}

#[test]
fn headers_and_trailers_are_kept_when_needed() {
    let input: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Dup: 1\r\nx-dup: 2\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: done\r\n\r\n";
    let parsed = parse_all_ways(input, PLAIN).unwrap();
    let names: Vec<&str> = parsed.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Content-Type", "X-Dup", "x-dup", "Transfer-Encoding"]
    );
    assert_eq!(
        parsed.trailers,
        [("X-Trailer".to_owned(), b"done".to_vec())]
    );

    let mut parser = ResponseParser::new(Limits::default());
    parser.reset(false, &ResponseNeeds::EVERYTHING);
    assert!(matches!(
        parser.feed(input).unwrap(),
        Progress::Complete { .. }
    ));
    assert_eq!(parser.header("content-type"), Some(&b"text/plain"[..]));
    assert_eq!(parser.header("X-DUP"), Some(&b"1"[..]));
    assert_eq!(parser.header("missing"), None);
    assert_eq!(parser.trailer("x-trailer"), Some(&b"done"[..]));

    // Not needed: nothing kept, the same framing.
    parser.reset(false, &ResponseNeeds::STATUS_ONLY);
    assert!(matches!(
        parser.feed(input).unwrap(),
        Progress::Complete { .. }
    ));
    assert_eq!(parser.status(), 200);
    assert_eq!(parser.header("content-type"), None);
    assert_eq!(parser.trailer("x-trailer"), None);
    assert!(parser.body().is_empty());
    assert_eq!(parser.body_len(), 1);
    assert_eq!(parser.buffered_bytes(), 0);

    // Named headers keep the head.
    let named = ResponseNeeds {
        headers: HeaderNeeds::Named(vec!["content-type".to_owned()]),
        body: false,
    };
    parser.reset(false, &named);
    assert!(matches!(
        parser.feed(input).unwrap(),
        Progress::Complete { .. }
    ));
    assert_eq!(parser.header("Content-Type"), Some(&b"text/plain"[..]));
}

#[test]
fn trailer_fields_after_bare_lf_lines_are_kept() {
    /// A chunked tail and the trailer fields it must give.
    type Case = (&'static [u8], &'static [(&'static str, &'static [u8])]);
    let cases: [Case; 5] = [
        (b"0\n\n", &[]),
        (b"0\r\n\n", &[]),
        (b"0\nX-A: 1\n\n", &[("X-A", b"1")]),
        (
            b"0\r\nX-A: 1\r\nX-B:  two words \n\r\n",
            &[("X-A", b"1"), ("X-B", b"two words")],
        ),
        (b"0;ext\nX-A:\nX-B: 2\r\n\n", &[("X-A", b""), ("X-B", b"2")]),
    ];
    for (tail, trailers) in cases {
        let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n".to_vec();
        input.extend_from_slice(tail);
        let name = String::from_utf8_lossy(&input).into_owned();
        let parsed =
            parse_all_ways(&input, PLAIN).unwrap_or_else(|kind| panic!("{name:?}: {kind}"));
        assert_eq!(parsed.body, b"abc", "{name:?}");
        assert_eq!(parsed.consumed, input.len(), "{name:?}");
        let expected: Vec<(String, Vec<u8>)> = trailers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
            .collect();
        assert_eq!(parsed.trailers, expected, "{name:?}");
    }
}

/// RFC 9112 section 5.2: obs-fold in a response head is accepted and each fold is read as
/// SP, by the framing (length, codings, connection) and in the kept fields.
#[test]
fn folded_header_values_are_read_with_a_space_for_each_fold() {
    struct Folded {
        input: &'static [u8],
        body: &'static [u8],
        keep_alive: bool,
        header: (&'static str, &'static [u8]),
    }
    let cases = [
        Folded {
            input: b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 5\r\n\r\nhello",
            body: b"hello",
            keep_alive: true,
            header: ("x-folded", b"a b"),
        },
        Folded {
            input: b"HTTP/1.1 200 OK\nX-Folded: a\n\tb\n c\nContent-Length: 5\n\nhello",
            body: b"hello",
            keep_alive: true,
            header: ("x-folded", b"a b c"),
        },
        Folded {
            input: b"HTTP/1.1 200 OK\r\nContent-Length:\r\n 5\r\n\r\nhello",
            body: b"hello",
            keep_alive: true,
            header: ("content-length", b"5"),
        },
        Folded {
            input: b"HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n 5\r\n\r\nhello",
            body: b"hello",
            keep_alive: true,
            header: ("content-length", b"5, 5"),
        },
        Folded {
            input: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            body: b"ok",
            keep_alive: true,
            header: ("transfer-encoding", b"gzip, chunked"),
        },
        Folded {
            input: b"HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n\tclose\r\nContent-Length: 2\r\n\r\nok",
            body: b"ok",
            keep_alive: false,
            header: ("connection", b"keep-alive, close"),
        },
        Folded {
            input: b"HTTP/1.0 200 OK\r\nConnection:\r\n keep-alive\r\nContent-Length: 2\r\n\r\nok",
            body: b"ok",
            keep_alive: true,
            header: ("connection", b"keep-alive"),
        },
        Folded {
            input: b"HTTP/1.1 200 OK\r\nX-Empty:\r\n \r\nX-After: 1\r\nContent-Length: 0\r\n\r\n",
            body: b"",
            keep_alive: true,
            header: ("x-empty", b""),
        },
    ];
    // Twice over: the second time the heads come from the thread's memory of heads.
    for round in 0..2 {
        for case in &cases {
            let name = String::from_utf8_lossy(case.input).into_owned();
            let parsed = parse_all_ways(case.input, PLAIN)
                .unwrap_or_else(|kind| panic!("round {round}, {name:?}: {kind}"));
            assert_eq!(parsed.body, case.body, "{name:?}");
            assert_eq!(parsed.keep_alive, case.keep_alive, "{name:?}");
            assert_eq!(parsed.consumed, case.input.len(), "{name:?}");
            let (field, value) = case.header;
            let found = parsed
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(field))
                .map(|(_, v)| v.as_slice());
            assert_eq!(found, Some(value), "round {round}, {name:?}");
            // Without the headers kept, the same framing.
            let mut parser = ResponseParser::new(Limits::default());
            parser.reset(false, &ResponseNeeds::STATUS_ONLY);
            assert_eq!(
                parser.feed(case.input).unwrap(),
                Progress::Complete {
                    consumed: case.input.len()
                },
                "{name:?}"
            );
            assert_eq!(parser.body_len(), case.body.len() as u64, "{name:?}");
            assert_eq!(parser.keep_alive(), case.keep_alive, "{name:?}");
        }
    }
}

/// A chunked response whose trailer section has `fields` one-byte fields, lines ended with
/// `eol`.
fn many_trailers(fields: usize, eol: &[u8]) -> &'static [u8] {
    let mut bytes =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n".to_vec();
    for i in 0..fields {
        bytes.extend_from_slice(format!("X-T{i}: v").as_bytes());
        bytes.extend_from_slice(eol);
    }
    bytes.extend_from_slice(eol);
    Box::leak(bytes.into_boxed_slice())
}

#[test]
fn malformed_and_oversized_responses() {
    let eof = Setup { eof: true, ..PLAIN };
    let small = Setup {
        limits: Limits {
            max_header_bytes: 64,
            max_body_bytes: 8,
        },
        ..PLAIN
    };
    let small_eof = Setup { eof: true, ..small };
    // Room for 129 short trailer fields, not for 400.
    let medium = Setup {
        limits: Limits {
            max_header_bytes: 2048,
            max_body_bytes: 8,
        },
        ..PLAIN
    };
    let interim_flood: &'static [u8] = Box::leak(
        b"HTTP/1.1 100 Continue\r\n\r\n"
            .repeat(9)
            .into_boxed_slice(),
    );
    let many_headers: &'static [u8] = Box::leak({
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..129 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        head.into_boxed_slice()
    });
    let cases: Vec<(&[u8], Setup, ErrorKind, &str)> = vec![
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "HTTP version"),
        (b"HTTP/2 200 OK\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "HTTP version"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "status"),
        (b"HTTP/1.1 099 Low\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "status"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "header name"),
        (many_headers, PLAIN, ErrorKind::MalformedResponse, "too many header"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "both Content-Length and Transfer-Encoding",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "conflicting"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "conflicting",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "64 bits",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 2\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "64 bits",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00010000000000000000\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "64 bits",
        ),
        (b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", PLAIN, ErrorKind::MalformedResponse, "past HTTP/1.1"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
            PLAIN,
            ErrorKind::MalformedResponse,
            "CRLF",
        ),
        // A CR must be followed by LF wherever chunked framing ends a line: malformed at
        // once, never a wait for bytes that could not make it valid.
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk size line",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\rhello\r\n0\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk size line",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\r",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk data",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n\r0\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\r",
            PLAIN,
            ErrorKind::MalformedResponse,
            "trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rX",
            PLAIN,
            ErrorKind::MalformedResponse,
            "trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\rb\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\n\rX",
            PLAIN,
            ErrorKind::MalformedResponse,
            "trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\nX-T: a\n folded\n\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n",
            PLAIN,
            ErrorKind::MalformedResponse,
            "trailer",
        ),
        (interim_flood, PLAIN, ErrorKind::MalformedResponse, "interim"),
        // Closed before the end.
        (b"HTTP/1.1 200 OK\r\nContent-", eof, ErrorKind::ClosedEarly, "closed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof, ErrorKind::ClosedEarly, "closed"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            eof,
            ErrorKind::ClosedEarly,
            "closed",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n",
            eof,
            ErrorKind::ClosedEarly,
            "closed",
        ),
        // Caps.
        (
            b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
            small,
            ErrorKind::HeaderTooLarge,
            "response head larger than 64 bytes",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            small,
            ErrorKind::HeaderTooLarge,
            "response head larger than 64 bytes",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", small, ErrorKind::BodyTooLarge, "8 bytes"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\n",
            small,
            ErrorKind::BodyTooLarge,
            "8 bytes",
        ),
        (b"HTTP/1.1 200 OK\r\n\r\n123456789", small_eof, ErrorKind::BodyTooLarge, "8 bytes"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
            small,
            ErrorKind::HeaderTooLarge,
            "trailer section (after the last chunk) larger than 64 bytes",
        ),
        // The trailer cap is its own: the message names the trailers, not the small head.
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\n0\nX-A: 1\nX-B: 2\nX-C: 3\nX-D: 4\nX-E: 5\nX-F: 6\nX-G: 7\nX-H: 8\nX-I: 9\nX-J: 10\n\n",
            small,
            ErrorKind::HeaderTooLarge,
            "response trailer section (after the last chunk) larger than 64 bytes",
        ),
        // More fields than the cap: malformed as soon as the 129th is there, as in the head,
        // also when the section goes on past the size cap (the first cap passed is reported).
        (many_trailers(200, b"\r\n"), medium, ErrorKind::MalformedResponse, "too many trailer fields"),
        (many_trailers(200, b"\n"), medium, ErrorKind::MalformedResponse, "too many trailer fields"),
        (many_trailers(400, b"\r\n"), medium, ErrorKind::MalformedResponse, "too many trailer fields"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a line that never ends, longer than the cap on the trailer section",
            small,
            ErrorKind::HeaderTooLarge,
            "response trailer section (after the last chunk) larger than 64 bytes",
        ),
    ];
    for (input, setup, kind, message) in cases {
        let name = String::from_utf8_lossy(input).into_owned();
        assert_eq!(parse_all_ways(input, setup), Err(kind), "{name:?}");
        let error = drive(input, &[], setup).unwrap_err();
        assert!(error.to_string().contains(message), "{name:?}: {error}");
    }
}

#[test]
fn a_parser_is_reusable_after_errors_and_responses() {
    let mut parser = ResponseParser::new(Limits::default());
    parser.reset(false, &ResponseNeeds::EVERYTHING);
    assert!(parser.feed(b"garbage\r\n\r\n").is_err());
    for _ in 0..3 {
        parser.reset(false, &ResponseNeeds::EVERYTHING);
        let progress = parser
            .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        assert_eq!(progress, Progress::Complete { consumed: 40 });
        assert_eq!(parser.body(), b"ok");
    }
}

#[test]
fn eof_before_any_byte_reports_nothing_received() {
    let mut parser = ResponseParser::new(Limits::default());
    parser.reset(false, &ResponseNeeds::STATUS_ONLY);
    match parser.feed_eof() {
        Err(Error::ClosedEarly { received }) => assert_eq!(received, 0),
        other => panic!("{other:?}"),
    }
}

/// A thread's parsers remember the heads they met and take a head that comes again, byte
/// for byte, from that memory: heads that differ in a single byte (a length digit, a header
/// value), more of them than the memory holds, fed in turn, with and without their headers
/// kept, whole and cut, each parse as if it were the first.
#[test]
fn heads_that_differ_in_one_byte_are_never_taken_for_each_other() {
    let responses: Vec<(Vec<u8>, u64, &str)> = (0..7u8)
        .map(|i| {
            let tag = ["a", "b", "c", "d", "e", "f", "g"][usize::from(i)];
            let length = u64::from(i % 3) + 1;
            let body = "x".repeat(length as usize);
            let head = format!(
                "HTTP/1.1 200 OK\r\nServer: memo\r\nX-Tag: {tag}\r\nContent-Length: {length}\r\n\r\n"
            );
            ((head + &body).into_bytes(), length, tag)
        })
        .collect();
    let status_only = ResponseNeeds::STATUS_ONLY;
    let everything = ResponseNeeds::EVERYTHING;
    let mut parser = ResponseParser::new(Limits::default());
    // Three heads fit the memory (met again, they are remembered, once with their headers
    // kept and once not); seven do not (each is forgotten before it comes again).
    for (set, round) in [3, 7].into_iter().flat_map(|n| (0..6).map(move |r| (n, r))) {
        for (i, (bytes, length, tag)) in responses[..set].iter().enumerate() {
            let keep = (round + i) % 2 == 0;
            parser.reset(false, if keep { &everything } else { &status_only });
            // Every other round the response comes in two pieces, cut inside the head.
            let progress = if round % 2 == 1 {
                assert!(matches!(parser.feed(&bytes[..20]), Ok(Progress::Partial)));
                parser.feed(&bytes[20..]).map(|p| (p, 20))
            } else {
                parser.feed(bytes).map(|p| (p, 0))
            };
            let (Progress::Complete { consumed }, before) = progress.unwrap() else {
                panic!("round {round}, response {i}: incomplete");
            };
            assert_eq!(
                before + consumed,
                bytes.len(),
                "round {round}, response {i}"
            );
            assert_eq!(parser.status(), 200);
            assert_eq!(parser.body_len(), *length, "round {round}, response {i}");
            if keep {
                assert_eq!(
                    parser.header("x-tag"),
                    Some(tag.as_bytes()),
                    "round {round}, response {i}"
                );
                assert_eq!(parser.body(), "x".repeat(*length as usize).as_bytes());
            }
        }
    }
}

#[test]
fn a_body_nobody_keeps_is_counted_and_dropped_whatever_its_size() {
    // The body cap bounds what the parser keeps; a body it drops holds no memory, so no cap
    // applies to it (a download of any size can be measured). A kept one is still capped.
    let limits = Limits {
        max_header_bytes: 64,
        max_body_bytes: 8,
    };
    let cases: [(&[u8], bool); 3] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789",
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
            false,
        ),
        (b"HTTP/1.1 200 OK\r\n\r\n01234567890123456789", true),
    ];
    for (input, eof) in cases {
        let mut parser = ResponseParser::new(limits);
        parser.reset(false, &ResponseNeeds::STATUS_ONLY);
        let progress = parser.feed(input).unwrap();
        if eof {
            assert_eq!(progress, Progress::Partial);
            parser.feed_eof().unwrap();
        } else {
            assert_eq!(
                progress,
                Progress::Complete {
                    consumed: input.len()
                }
            );
        }
        assert_eq!(parser.status(), 200);
        assert_eq!(
            parser.body_len(),
            20,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(parser.buffered_bytes(), 0);
        let mut kept = ResponseParser::new(limits);
        kept.reset(false, &ResponseNeeds::EVERYTHING);
        let error = kept.feed(input).and_then(|_| kept.feed_eof()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BodyTooLarge);
    }
}

/// A chunk-size line holds up to 4 KiB (`MAX_CHUNK_LINE`) before its line ending, CRLF or LF
/// (sweep 10: the CR was counted and the LF not, so 4,095 bytes passed and 4,096 did not).
#[test]
fn a_chunk_size_line_holds_4_kib_before_its_line_ending() {
    for (eol, length, ok) in [
        (&b"\r\n"[..], 4096, true),
        (&b"\n"[..], 4096, true),
        (&b"\r\n"[..], 4097, false),
        (&b"\n"[..], 4097, false),
    ] {
        let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;".to_vec();
        input.resize(input.len() + length - 2, b'x');
        input.extend_from_slice(eol);
        input.extend_from_slice(b"hello\r\n0\r\n\r\n");
        let parsed = parse_all_ways(&input, PLAIN);
        if ok {
            assert_eq!(parsed.map(|p| p.body), Ok(b"hello".to_vec()), "{length}");
        } else {
            assert_eq!(parsed.err(), Some(ErrorKind::MalformedResponse), "{length}");
        }
    }
}

/// Each parser limit holds at its exact value and refuses one past it: 8 interim responses
/// (`MAX_INTERIM`) are skipped and a 9th is refused; a chunk-size line of 4 KiB of digits
/// (leading zeros), or of digits and whitespace, is read and one of 4,097 bytes is refused;
/// a kept chunked body of exactly the body cap is kept and one byte more is refused.
#[test]
fn limits_hold_at_their_exact_value() {
    let interim = |n: usize| -> Vec<u8> {
        let mut input = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(n);
        input.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        input
    };
    let parsed = parse_all_ways(&interim(8), PLAIN).map(|p| (p.status, p.body));
    assert_eq!(parsed, Ok((200, b"ok".to_vec())), "8 interim responses");
    let parsed = parse_all_ways(&interim(9), PLAIN).map(|p| p.status);
    assert_eq!(
        parsed,
        Err(ErrorKind::MalformedResponse),
        "9 interim responses"
    );

    let chunked = |size_line: &[u8]| -> Vec<u8> {
        let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        input.extend_from_slice(size_line);
        input.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        input
    };
    for length in [4096, 4097] {
        let mut zeros = vec![b'0'; length - 1];
        zeros.push(b'5');
        let mut spaced = b"5".to_vec();
        spaced.resize(length, b' ');
        for line in [zeros, spaced] {
            let parsed = parse_all_ways(&chunked(&line), PLAIN).map(|p| p.body);
            let want = if length == 4096 {
                Ok(b"hello".to_vec())
            } else {
                Err(ErrorKind::MalformedResponse)
            };
            assert_eq!(
                parsed,
                want,
                "size line of {length} bytes: {}...",
                String::from_utf8_lossy(&line[..2])
            );
        }
    }

    let capped = Setup {
        limits: Limits {
            max_header_bytes: 64 << 10,
            max_body_bytes: 8,
        },
        ..PLAIN
    };
    // (input, whether it is kept: its body is then 01234567; if not, body_too_large)
    let cases: [(&[u8], bool); 4] = [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n0\r\n\r\n",
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n012\r\n5\r\n34567\r\n0\r\n\r\n",
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n012\r\n6\r\n345678\r\n0\r\n\r\n",
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n01234567",
            true,
        ),
    ];
    for (input, kept) in cases {
        let want = if kept {
            Ok(b"01234567".to_vec())
        } else {
            Err(ErrorKind::BodyTooLarge)
        };
        assert_eq!(
            parse_all_ways(input, capped).map(|p| p.body),
            want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}
