//! What the transport-floor examples (`examples/transport_floor`, `examples/uring_floor`,
//! `examples/uring_multishot`, `examples/async_floor`) share: the request they send, their
//! blocking connections, when the bytes read so far hold one whole response, the keep-alive
//! loop of the two that run on an async runtime, and the process's CPU time.

use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The GET every floor sends to `addr`, naming itself in `User-Agent`.
pub fn request(addr: SocketAddr, agent: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {agent}\r\n\r\n").into_bytes()
}

/// The arguments the raw io_uring floors start with, `ADDR CONNECTIONS(1-4095) SECONDS`
/// (`args[1..=3]`): None when one is missing or out of range.
pub fn address_connections_seconds(args: &[String]) -> Option<(SocketAddr, usize, u64)> {
    let addr: SocketAddr = args.get(1)?.parse().ok()?;
    let conns: usize = args.get(2)?.parse().ok().filter(|&c| c > 0 && c < 4096)?;
    let secs: u64 = args.get(3)?.parse().ok()?;
    Some((addr, conns, secs))
}

/// `count` connections to `addr` with `TCP_NODELAY`, as the raw io_uring floors open them
/// (blocking connects; the loops then use the descriptors).
pub fn connect_all(addr: SocketAddr, count: usize) -> std::io::Result<Vec<TcpStream>> {
    (0..count)
        .map(|_| {
            let stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
        .collect()
}

/// Prints a floor's result line, the one `benches/floor.sh` reads: `mode=MODE
/// connections=N requests=N EXTRA req/s=R cpu=Ss user=Us cpu_us_per_req=C`, with the
/// process's CPU time so far; `wall` is how long the requests took, in seconds. `extra` (may
/// be empty) is more `key=value` fields.
pub fn print_result(mode: &str, connections: usize, requests: u64, extra: &str, wall: f64) {
    let (user, sys) = cpu_seconds();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" {extra}")
    };
    println!(
        "mode={mode} connections={connections} requests={requests}{extra} req/s={:.0} cpu={:.2}s user={user:.2}s cpu_us_per_req={:.2}",
        requests as f64 / wall,
        user + sys,
        (user + sys) * 1e6 / requests.max(1) as f64
    );
}

/// This process's CPU time so far: (user, system) seconds, from `getrusage`.
pub fn cpu_seconds() -> (f64, f64) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the valid, exclusively borrowed struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Reads one response into `buf`; false on end of stream, an error or a response that does
/// not fit.
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> bool {
    let mut have = 0;
    loop {
        if have == buf.len() {
            return false;
        }
        match stream.read(&mut buf[have..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => have += n,
        }
        if response_complete(&buf[..have]) {
            return true;
        }
    }
}

/// The async floors' keep-alive loop: `request` written, one response read, until
/// `deadline`. Returns (responses, 1 if the connection failed, else 0).
pub async fn exchange_loop<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    deadline: Instant,
) -> (u64, u64) {
    let mut buf = vec![0u8; 4096];
    let mut done = 0u64;
    while Instant::now() < deadline {
        if stream.write_all(request).await.is_err() || !read_response(&mut stream, &mut buf).await {
            return (done, 1);
        }
        done += 1;
    }
    (done, 0)
}

/// Whether `data` holds a complete response: a head (up to the blank line) and as many body
/// bytes as its `Content-Length` says (none without one). The floors' responses come from
/// nginx's `return 200`, so nothing else (chunked, until-close) is handled. A floor's check
/// must cost less than any real parser: the newlines are found 16 bytes at a time (SSE2 on
/// x86-64), and only lines starting with `c`/`C` are compared with `content-length:`, with no
/// allocation (it used to lower-case every line into a new `String`: ~3,100 instructions per
/// response, more than molotov's whole request path, so the floors were not floors).
pub fn response_complete(data: &[u8]) -> bool {
    const NAME: &[u8] = b"content-length:";
    // The newlines among the 16 bytes from `at` (fewer at the end), as bits.
    let newlines = |at: usize| -> u32 {
        #[cfg(target_arch = "x86_64")]
        if data.len() - at >= 16 {
            use std::arch::x86_64::{
                __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
            };
            // SAFETY: SSE2 is part of x86-64; the unaligned load reads the 16 bytes from `at`,
            // which the length check above keeps inside `data`.
            return unsafe {
                let bytes = _mm_loadu_si128(data.as_ptr().add(at).cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8))) as u32
            };
        }
        data[at..data.len().min(at + 16)]
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .fold(0, |bits, (i, _)| bits | 1 << i)
    };
    let mut length = 0usize;
    let mut line_start = 0;
    let mut at = 0;
    while at < data.len() {
        let mut bits = newlines(at);
        while bits != 0 {
            let end = at + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let line = &data[line_start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line_start = end + 1;
            match line.first() {
                None => return data.len() >= line_start + length,
                Some(b'c' | b'C')
                    if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) =>
                {
                    length = line[NAME.len()..]
                        .iter()
                        .filter(|b| b.is_ascii_digit())
                        .fold(0, |n, b| n * 10 + usize::from(b - b'0'));
                }
                Some(_) => {}
            }
        }
        at += 16;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{address_connections_seconds, request, response_complete};

    #[test]
    fn the_raw_floors_take_an_address_a_connection_count_and_seconds() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = address_connections_seconds(&args(&["x", "127.0.0.1:80", "50", "3", "recv"]));
        assert_eq!(ok, Some(("127.0.0.1:80".parse().unwrap(), 50, 3)));
        for bad in [
            &["x", "127.0.0.1:80", "0", "3"][..],
            &["x", "127.0.0.1:80", "4096", "3"],
            &["x", "localhost:80", "50", "3"],
            &["x", "127.0.0.1:80", "50"],
        ] {
            assert_eq!(address_connections_seconds(&args(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn the_floors_request_is_a_keep_alive_get_of_the_address() {
        let addr = "127.0.0.1:8081".parse().unwrap();
        assert_eq!(
            request(addr, "uring-floor"),
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: uring-floor\r\n\r\n"
        );
    }

    #[test]
    fn a_response_is_complete_once_its_head_and_declared_body_are_in() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
        for cut in 0..full.len() {
            assert!(!response_complete(&full[..cut]), "complete at {cut} bytes");
        }
        assert!(response_complete(full));
        assert!(response_complete(b"HTTP/1.1 204 No Content\r\n\r\n"));
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n1"
        ));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nCONTENT-LENGTH:  2 \r\n\r\n12"
        ));
        // nginx's response: longer than the 16 bytes looked at at once.
        let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 12:02:14 \
                      GMT\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\
                      Connection: keep-alive\r\n\r\n{\"ok\":true}";
        for cut in 0..nginx.len() {
            assert!(!response_complete(&nginx[..cut]), "complete at {cut} bytes");
        }
        assert!(response_complete(nginx));
        // The head's end is the first empty line, not a body's.
        assert!(!response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n\r\n\r\n"
        ));
    }
}
