//! What the transport-floor examples (`examples/transport_floor`, `examples/uring_floor`)
//! share: when the bytes read so far hold one whole response.

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
