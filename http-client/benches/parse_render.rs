//! Micro-benchmarks of the CPU work per request: parsing a typical response (status only and
//! everything kept), parsing a chunked one, and rendering requests.
//!
//! A thread's parsers remember the last heads they met (the head memo of
//! `http-client/src/response.rs`): input that starts with one of them takes its parse without
//! parsing it again. So the cases come in two forms:
//! - `..._memo_hit`: the same bytes every iteration, so from the second on the head is
//!   answered by the memo (a compare and a copy) and only the body framing runs: what a
//!   server whose head repeats byte for byte costs (nginx's static answer, whose `Date`
//!   changes once a second);
//! - `..._parsed`: the head's `Date` changes every iteration (ten values in turn, more than
//!   the memo holds), so every head misses and is parsed (and after 64 misses in a row the
//!   memo rests, as it does on such a server): what the head parser costs, and what a server
//!   with a per-response header (a request id, a cookie) costs.
//!
//! `cargo run --release -p molotov-http --example parse_count` under callgrind counts the
//! instructions per response of both forms (see that example).
//!
//! Run: `cargo bench -p molotov-http --bench parse_render`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use molotov_http::{Limits, Method, Progress, ResponseNeeds, ResponseParser, render_request};

/// What nginx sends for `return 200 '{"ok":true}'` with a JSON content type.
const TYPICAL: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 26 Nov 2025 11:12:13 GMT\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}";

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\n\r\n6\r\nhello \r\n8;ext=1\r\nchunked \r\n5\r\nworld\r\n40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\nX-Trailer: done\r\n\r\n";

fn parse(parser: &mut ResponseParser, input: &[u8], needs: &ResponseNeeds) -> u16 {
    parser.reset(false, needs);
    match parser.feed(input) {
        Ok(Progress::Complete { .. }) => parser.status(),
        other => panic!("{other:?}"),
    }
}

/// A response whose head differs from the one before: the last digit of the seconds of its
/// `Date` goes round ten values, more than the head memo holds, so no head is found there.
struct Varying {
    bytes: Vec<u8>,
    /// Where the digit is.
    at: usize,
}

impl Varying {
    fn new(response: &[u8], date: &[u8]) -> Varying {
        let start = response
            .windows(date.len())
            .position(|w| w == date)
            .expect("the response has a Date");
        // `Date: Wed, 26 Nov 2025 11:12:13 GMT`: the digit before " GMT".
        let gmt = response[start..]
            .windows(4)
            .position(|w| w == b" GMT")
            .expect("the Date ends in GMT");
        Varying {
            bytes: response.to_vec(),
            at: start + gmt - 1,
        }
    }

    /// The next response: the digit moves on by one.
    fn next(&mut self) -> &[u8] {
        let digit = &mut self.bytes[self.at];
        *digit = if *digit == b'9' { b'0' } else { *digit + 1 };
        &self.bytes
    }
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let mut parser = ResponseParser::new(Limits::default());
    group.throughput(Throughput::Bytes(TYPICAL.len() as u64));
    for (name, needs) in [
        ("typical_status_only", ResponseNeeds::STATUS_ONLY),
        ("typical_everything", ResponseNeeds::EVERYTHING),
    ] {
        group.bench_function(format!("{name}_memo_hit"), |b| {
            b.iter(|| parse(&mut parser, black_box(TYPICAL), &needs))
        });
        let mut varying = Varying::new(TYPICAL, b"Date: ");
        group.bench_function(format!("{name}_parsed"), |b| {
            b.iter(|| parse(&mut parser, black_box(varying.next()), &needs))
        });
    }
    group.throughput(Throughput::Bytes(CHUNKED.len() as u64));
    group.bench_function("chunked_status_only_memo_hit", |b| {
        b.iter(|| parse(&mut parser, black_box(CHUNKED), &ResponseNeeds::STATUS_ONLY))
    });
    group.bench_function("chunked_everything_memo_hit", |b| {
        b.iter(|| parse(&mut parser, black_box(CHUNKED), &ResponseNeeds::EVERYTHING))
    });
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    let mut out = Vec::with_capacity(1024);
    let headers: [(&str, &[u8]); 2] = [
        ("Accept", b"application/json"),
        ("Authorization", b"Bearer tok-0123456789abcdef"),
    ];
    group.bench_function("get_two_headers", |b| {
        b.iter(|| {
            out.clear();
            render_request(
                &mut out,
                &Method::GET,
                black_box("127.0.0.1:8080"),
                black_box("/products?page=3"),
                headers,
                b"",
            )
            .unwrap();
            out.len()
        })
    });
    let body = br#"{"user":"ada","password":"secret"}"#;
    group.bench_function("post_json_body", |b| {
        b.iter(|| {
            out.clear();
            render_request(
                &mut out,
                &Method::POST,
                black_box("127.0.0.1:8080"),
                black_box("/login"),
                [("Content-Type", &b"application/json"[..])],
                black_box(body),
            )
            .unwrap();
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, rendering);
criterion_main!(benches);
