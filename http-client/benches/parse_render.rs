//! Micro-benchmarks of the CPU work per request: parsing a typical response (status only and
//! everything kept), parsing a chunked one, and rendering requests.
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

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let mut parser = ResponseParser::new(Limits::default());
    group.throughput(Throughput::Bytes(TYPICAL.len() as u64));
    group.bench_function("typical_status_only", |b| {
        b.iter(|| parse(&mut parser, black_box(TYPICAL), &ResponseNeeds::STATUS_ONLY))
    });
    group.bench_function("typical_everything", |b| {
        b.iter(|| parse(&mut parser, black_box(TYPICAL), &ResponseNeeds::EVERYTHING))
    });
    group.throughput(Throughput::Bytes(CHUNKED.len() as u64));
    group.bench_function("chunked_status_only", |b| {
        b.iter(|| parse(&mut parser, black_box(CHUNKED), &ResponseNeeds::STATUS_ONLY))
    });
    group.bench_function("chunked_everything", |b| {
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
