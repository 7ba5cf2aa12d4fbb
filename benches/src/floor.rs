//! What the transport-floor examples (`examples/transport_floor`, `examples/uring_floor`,
//! `examples/uring_multishot`) share: the request they send, their blocking connections,
//! when the bytes read so far hold one whole response, and the process's CPU time.

use std::net::{SocketAddr, TcpStream};

/// The GET every floor sends to `addr`, naming itself in `User-Agent`.
pub fn request(addr: SocketAddr, agent: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {agent}\r\n\r\n").into_bytes()
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

/// This process's CPU time so far: (user, system) seconds, from `getrusage`.
pub fn cpu_seconds() -> (f64, f64) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the valid, exclusively borrowed struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Whether `data` holds a complete response: a head (up to the blank line) and as many body
/// bytes as its `Content-Length` says (none without one). The floors' responses come from
/// nginx's `return 200`, so nothing else (chunked, until-close) is handled.
pub fn response_complete(data: &[u8]) -> bool {
    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let length = std::str::from_utf8(&data[..end])
        .ok()
        .and_then(|head| {
            head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
        })
        .unwrap_or(0);
    data.len() >= end + 4 + length
}

#[cfg(test)]
mod tests {
    use super::response_complete;

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
    }
}
