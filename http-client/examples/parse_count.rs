//! The loops of the `parse_render` benchmark's `typical_*` cases, run N times, for
//! instruction counts that do not depend on the machine's noise, and to check that the
//! `_parsed` form really parses every head (the head memo misses) where the `_memo_hit` form
//! does not:
//!
//! ```text
//! cargo build --release -p molotov-http --example parse_count
//! valgrind --tool=callgrind target/release/examples/parse_count parsed status 10000
//! valgrind --tool=callgrind target/release/examples/parse_count parsed status 110000
//! ```
//! (instructions per response = the difference of the two totals / 100,000; `memo_hit`
//! instead of `parsed`, `everything` instead of `status`).

use std::hint::black_box;
use std::process::ExitCode;

use molotov_http::{Limits, Progress, ResponseNeeds, ResponseParser};

/// The benchmark's `TYPICAL`: what nginx sends for `return 200 '{"ok":true}'`.
const TYPICAL: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 26 Nov 2025 11:12:13 GMT\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}";

/// Where the last digit of the `Date`'s seconds is (the benchmark's `Varying` turns it).
fn seconds_digit(response: &[u8]) -> usize {
    let date = response
        .windows(6)
        .position(|w| w == b"Date: ")
        .expect("a Date");
    date + response[date..]
        .windows(4)
        .position(|w| w == b" GMT")
        .expect("GMT")
        - 1
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: parse_count memo_hit|parsed status|everything N";
    let (vary, needs, n) = match (
        args.get(1).map(String::as_str),
        args.get(2).map(String::as_str),
        args.get(3).and_then(|n| n.parse::<u64>().ok()),
    ) {
        (
            Some(form @ ("memo_hit" | "parsed")),
            Some(needs @ ("status" | "everything")),
            Some(n),
        ) => (
            form == "parsed",
            if needs == "status" {
                ResponseNeeds::STATUS_ONLY
            } else {
                ResponseNeeds::EVERYTHING
            },
            n,
        ),
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let mut parser = ResponseParser::new(Limits::default());
    let mut bytes = TYPICAL.to_vec();
    let at = seconds_digit(&bytes);
    let mut sum = 0u64;
    for _ in 0..n {
        if vary {
            let digit = &mut bytes[at];
            *digit = if *digit == b'9' { b'0' } else { *digit + 1 };
        }
        parser.reset(false, &needs);
        match parser.feed(black_box(&bytes)) {
            Ok(Progress::Complete { .. }) => sum += u64::from(parser.status()),
            other => {
                eprintln!("{other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{n} responses, status sum {sum}");
    ExitCode::SUCCESS
}
