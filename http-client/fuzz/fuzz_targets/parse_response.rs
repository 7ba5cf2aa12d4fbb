//! Fuzz target: the response parser fed arbitrary bytes in arbitrary chunkings must never
//! panic and never hold more than its caps allow.
//!
//! The first byte picks the request kind and what is kept; the next four pick chunk sizes;
//! the rest is the response stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use molotov_http::{HeaderNeeds, Limits, Progress, ResponseNeeds, ResponseParser};

const LIMITS: Limits = Limits {
    max_header_bytes: 1024,
    max_body_bytes: 4096,
};
const BOUND: usize = 2 * LIMITS.max_header_bytes + LIMITS.max_body_bytes as usize;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (sizes, input) = rest.split_at(rest.len().min(4));
    let needs = ResponseNeeds {
        headers: match mode % 3 {
            0 => HeaderNeeds::None,
            1 => HeaderNeeds::Named(vec!["content-type".to_owned()]),
            _ => HeaderNeeds::All,
        },
        body: mode & 4 != 0,
    };
    let mut parser = ResponseParser::new(LIMITS);
    parser.reset(mode & 8 != 0, &needs);
    let mut at = 0;
    let mut turn = 0;
    while at < input.len() {
        let size = sizes.get(turn % sizes.len().max(1)).copied().unwrap_or(255);
        turn += 1;
        let take = usize::from(size).clamp(1, input.len() - at);
        let result = parser.feed(&input[at..at + take]);
        assert!(parser.buffered_bytes() <= BOUND);
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
});
