//! Property tests of the response parser: arbitrary bytes in arbitrary chunkings never
//! panic and never hold more than the caps allow; generated valid responses parse to the
//! same result however they are cut.

use molotov_http::{HeaderNeeds, Limits, Progress, ResponseNeeds, ResponseParser};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const LIMITS: Limits = Limits {
    max_header_bytes: 512,
    max_body_bytes: 2048,
};

/// The most a parser may hold with `LIMITS`.
const BOUND: usize = 2 * LIMITS.max_header_bytes + LIMITS.max_body_bytes as usize;

fn needs_strategy() -> impl Strategy<Value = ResponseNeeds> {
    (0..3u8, any::<bool>()).prop_map(|(headers, body)| ResponseNeeds {
        headers: match headers {
            0 => HeaderNeeds::None,
            1 => HeaderNeeds::Named(vec!["content-type".to_owned()]),
            _ => HeaderNeeds::All,
        },
        body,
    })
}

/// Feeds `input` in pieces of the given sizes (cycled), checking the memory bound after
/// every piece; stops at the first completion or error.
fn feed_in_pieces(parser: &mut ResponseParser, input: &[u8], sizes: &[usize]) {
    let mut at = 0;
    let mut size = sizes.iter().cycle();
    while at < input.len() {
        let take = (*size.next().unwrap_or(&1)).clamp(1, input.len() - at);
        let result = parser.feed(&input[at..at + take]);
        assert!(
            parser.buffered_bytes() <= BOUND,
            "{} bytes held",
            parser.buffered_bytes()
        );
        match result {
            Ok(Progress::Partial) => at += take,
            Ok(Progress::Complete { consumed }) => {
                assert!(consumed <= take);
                return;
            }
            Err(_) => return,
        }
    }
    let _ = parser.feed_eof();
    assert!(parser.buffered_bytes() <= BOUND);
}

/// Heads that get the parser past the status line, so arbitrary bytes reach the body
/// decoders too.
const PREFIXES: [&[u8]; 4] = [
    b"",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
];

/// 256 cases, or `PROPTEST_CASES` (`scripts/fuzz` asks for many); the seeds of past failures
/// are read from (and new ones saved to) `tests/parse_props.proptest-regressions` and run
/// first (the default persistence looks beside a `lib.rs`, which an integration test has not).
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/parse_props.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        prefix in 0..PREFIXES.len(),
        tail in proptest::collection::vec(any::<u8>(), 0..4096),
        sizes in proptest::collection::vec(1usize..700, 1..8),
        head_request in any::<bool>(),
        needs in needs_strategy(),
    ) {
        let mut input = PREFIXES[prefix].to_vec();
        input.extend_from_slice(&tail);
        let mut parser = ResponseParser::new(LIMITS);
        parser.reset(head_request, &needs);
        feed_in_pieces(&mut parser, &input, &sizes);
    }

    #[test]
    fn http_like_noise_never_panics(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just(&b"\r\n"[..]),
                Just(&b"HTTP/1.1 "[..]),
                Just(&b"100 Continue\r\n"[..]),
                Just(&b"200 OK\r\n"[..]),
                Just(&b"Content-Length: "[..]),
                Just(&b"Transfer-Encoding: chunked\r\n"[..]),
                Just(&b"Connection: close\r\n"[..]),
                Just(&b"0\r\n"[..]),
                Just(&b"ffff;x=y\r\n"[..]),
                Just(&b"5"[..]),
                Just(&b"abcde"[..]),
                Just(&b";"[..]),
                Just(&b":"[..]),
            ],
            0..200,
        ),
        sizes in proptest::collection::vec(1usize..64, 1..8),
        needs in needs_strategy(),
    ) {
        let input: Vec<u8> = pieces.concat();
        let mut parser = ResponseParser::new(LIMITS);
        parser.reset(false, &needs);
        feed_in_pieces(&mut parser, &input, &sizes);
    }

    #[test]
    fn valid_responses_parse_the_same_however_cut(
        status in prop_oneof![200u16..=299, 400u16..=599].prop_filter("bodiless", |s| *s != 204),
        body in proptest::collection::vec(any::<u8>(), 0..1500),
        chunked in any::<bool>(),
        chunk_sizes in proptest::collection::vec(1usize..300, 1..10),
        // Line endings of the chunked framing, cycled: CRLF, or a bare LF (RFC 9112 section
        // 2.2), in every place one ends a line.
        bare_lfs in proptest::collection::vec(any::<bool>(), 1..12),
        trailer in any::<bool>(),
        extra_headers in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,20}"), 0..5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut input = format!("HTTP/1.1 {status} Whatever\r\n").into_bytes();
        for (name, value) in &extra_headers {
            let lower = name.to_ascii_lowercase();
            if lower == "content-length" || lower == "transfer-encoding" || lower == "connection" {
                continue;
            }
            input.extend_from_slice(format!("{name}: {}\r\n", value.trim()).as_bytes());
        }
        if chunked {
            input.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let mut bare_lf = bare_lfs.iter().cycle();
            let mut eol = || if *bare_lf.next().unwrap() { &b"\n"[..] } else { &b"\r\n"[..] };
            let mut rest = &body[..];
            let mut size = chunk_sizes.iter().cycle();
            while !rest.is_empty() {
                let take = (*size.next().unwrap()).min(rest.len());
                input.extend_from_slice(format!("{take:x}").as_bytes());
                input.extend_from_slice(eol());
                input.extend_from_slice(&rest[..take]);
                input.extend_from_slice(eol());
                rest = &rest[take..];
            }
            input.extend_from_slice(b"0");
            input.extend_from_slice(eol());
            if trailer {
                input.extend_from_slice(b"X-Trailer: t");
                input.extend_from_slice(eol());
            }
            input.extend_from_slice(eol());
        } else {
            input.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            input.extend_from_slice(&body);
        }
        let mut cut_points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cut_points.sort_unstable();
        cut_points.dedup();
        cut_points.push(input.len());

        let mut parser = ResponseParser::new(Limits::default());
        parser.reset(false, &ResponseNeeds::EVERYTHING);
        let mut start = 0;
        let mut complete = None;
        for &end in &cut_points {
            match parser.feed(&input[start..end]).unwrap() {
                Progress::Complete { consumed } => {
                    complete = Some(start + consumed);
                    break;
                }
                Progress::Partial => start = end,
            }
        }
        prop_assert_eq!(complete, Some(input.len()));
        prop_assert_eq!(parser.status(), status);
        prop_assert_eq!(parser.body(), &body[..]);
        prop_assert!(parser.keep_alive());
        if chunked {
            prop_assert_eq!(parser.trailer("x-trailer"), trailer.then_some(&b"t"[..]));
        }
    }
}
