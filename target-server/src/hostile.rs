//! The misbehaviours behind `/hostile/...`: each takes over the connection and does one
//! thing a broken or hostile server does, so the client's error handling can be tested
//! against real sockets. On a TLS server they misbehave inside the encrypted stream (the
//! bytes are the same HTTP-level garbage, truncation or reset).

use std::os::fd::AsRawFd;
use std::time::Duration;

use futures_lite::AsyncReadExt;

use crate::routes::Hostile;
use crate::stream::ServerStream;

/// What happened, for counting and for the connection loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The misbehaviour's bytes were all written (it counts as answered).
    pub counted: bool,
    /// The connection stays open for more requests.
    pub keep_open: bool,
}

const CLOSED_UNCOUNTED: Outcome = Outcome {
    counted: false,
    keep_open: false,
};
const CLOSED_COUNTED: Outcome = Outcome {
    counted: true,
    keep_open: false,
};

/// Bytes of `/hostile/slowloris`, sent one per second.
pub const SLOWLORIS_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// Bytes of `/hostile/garbage`: not an HTTP response.
pub const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.6 this is not HTTP\r\n\x00\x01\x02\xff\r\n\r\n";
/// Head of `/hostile/truncated`: promises 100 bytes, then 10 are sent.
pub const TRUNCATED_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n";
/// Bytes of `/hostile/wrong-length`: `Content-Length: 5` and a 12-byte body.
pub const WRONG_LENGTH: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello, world";
/// Head of `/hostile/reset`: promises 1000 bytes; 100 are sent, then a RST.
pub const RESET_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n";
/// Header fields in `/hostile/huge-headers` (each about 1 KB: about 1 MB in all).
pub const HUGE_HEADER_FIELDS: usize = 1024;

/// Carries out `hostile` on `stream`.
pub async fn misbehave(hostile: Hostile, stream: &mut ServerStream) -> Outcome {
    match hostile {
        Hostile::Never => {
            // Never answer, but notice when the client gives up (bounded: a 4 KiB buffer
            // read over and over).
            let mut sink = [0u8; 4096];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
            CLOSED_UNCOUNTED
        }
        Hostile::Slowloris => {
            for byte in SLOWLORIS_RESPONSE.chunks(1) {
                if stream.send_all(byte).await.is_err() {
                    return CLOSED_UNCOUNTED;
                }
                glommio::timer::sleep(Duration::from_secs(1)).await;
            }
            CLOSED_COUNTED
        }
        Hostile::Garbage => written(stream.send_all(GARBAGE).await.is_ok(), false),
        Hostile::Truncated => {
            let ok = stream.send_all(TRUNCATED_HEAD).await.is_ok()
                && stream.send_all(&[b't'; 10]).await.is_ok();
            written(ok, false)
        }
        Hostile::InfiniteChunked => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.send_all(head).await.is_err() {
                return CLOSED_UNCOUNTED;
            }
            let mut chunk = Vec::with_capacity(16 << 10);
            chunk.extend_from_slice(b"4000\r\n");
            chunk.resize(6 + (16 << 10), b'c');
            chunk.extend_from_slice(b"\r\n");
            // Until the client goes away (or the server stops): never counted.
            while stream.send_all(&chunk).await.is_ok() {
                glommio::yield_if_needed().await;
            }
            CLOSED_UNCOUNTED
        }
        Hostile::HugeHeaders => {
            let mut block = Vec::with_capacity(64 << 10);
            block.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            for field in 0..HUGE_HEADER_FIELDS {
                block.extend_from_slice(format!("X-Filler-{field:04}: ").as_bytes());
                block.resize(block.len() + 1000, b'f');
                block.extend_from_slice(b"\r\n");
                if block.len() >= 60 << 10 {
                    if stream.send_all(&block).await.is_err() {
                        return CLOSED_UNCOUNTED;
                    }
                    block.clear();
                    glommio::yield_if_needed().await;
                }
            }
            block.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            written(stream.send_all(&block).await.is_ok(), false)
        }
        Hostile::WrongLength => written(stream.send_all(WRONG_LENGTH).await.is_ok(), true),
        Hostile::Reset => {
            let ok = stream.send_all(RESET_HEAD).await.is_ok()
                && stream.send_all(&[b'r'; 100]).await.is_ok();
            if !ok {
                return CLOSED_UNCOUNTED;
            }
            // Let the partial body reach the client before the reset arrives.
            glommio::timer::sleep(Duration::from_millis(20)).await;
            set_linger_zero(stream);
            // The caller drops the stream: with SO_LINGER 0 the close sends a RST.
            CLOSED_COUNTED
        }
        Hostile::CloseBeforeResponse => CLOSED_COUNTED,
    }
}

fn written(ok: bool, keep_open: bool) -> Outcome {
    Outcome {
        counted: ok,
        keep_open: ok && keep_open,
    }
}

/// Sets `SO_LINGER {on, 0}` so that closing the socket resets the connection.
pub fn set_linger_zero(stream: &impl AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is owned by `stream`, alive for this call; `linger` is a valid
    // `struct linger` and its exact size is passed.
    let _ = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast::<libc::c_void>(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}
