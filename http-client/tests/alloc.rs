//! Once warm, parsing a response and rendering a request into a reused buffer allocate
//! nothing (counted with a global allocator that counts this thread's allocations).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use molotov_http::{
    HeaderNeeds, Limits, Method, Progress, ResponseNeeds, ResponseParser, render_request,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` with a const initializer, so touching it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const TYPICAL: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
const CHUNKED: &[u8] =
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";

#[test]
fn warm_parsing_does_not_allocate() {
    let named = ResponseNeeds {
        headers: HeaderNeeds::Named(vec!["content-type".to_owned()]),
        body: true,
    };
    for needs in [ResponseNeeds::STATUS_ONLY, ResponseNeeds::EVERYTHING, named] {
        for input in [TYPICAL, CHUNKED] {
            let mut parser = ResponseParser::new(Limits::default());
            let parse = |parser: &mut ResponseParser| {
                parser.reset(false, &needs);
                // Two pieces, so the partial-head path runs too.
                let (first, second) = input.split_at(20);
                assert_eq!(parser.feed(first).unwrap(), Progress::Partial);
                assert!(matches!(
                    parser.feed(second).unwrap(),
                    Progress::Complete { .. }
                ));
                assert_eq!(parser.status(), 200);
            };
            parse(&mut parser); // warm-up: buffers reach their size
            let count = allocations_during(|| {
                for _ in 0..100 {
                    parse(&mut parser);
                }
            });
            assert_eq!(count, 0, "{needs:?} {:?}", String::from_utf8_lossy(input));
        }
    }
}

#[test]
fn rendering_into_a_reused_buffer_does_not_allocate() {
    let mut out = Vec::new();
    let headers: [(&str, &[u8]); 2] = [("Accept", b"*/*"), ("Authorization", b"Bearer t")];
    let render = |out: &mut Vec<u8>| {
        out.clear();
        render_request(
            out,
            &Method::POST,
            "127.0.0.1:8080",
            "/login",
            headers,
            b"{}",
        )
        .unwrap();
    };
    render(&mut out);
    let count = allocations_during(|| {
        for _ in 0..100 {
            render(&mut out);
        }
    });
    assert_eq!(count, 0);
}
