//! Reading a file that people or tools wrote (a plan, an included file, a `file` body, and,
//! through the CLI, a `molotov.json`) with a size cap: a file over the cap, an endless one
//! (`/dev/zero`) or a named pipe (which would wait for a writer) is refused at once, without
//! reading more than the cap.

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Plans and included files larger than this are refused: a plan is text written by people
/// or tools, and a bigger file (or an endless one such as `/dev/zero`) is the wrong file.
pub const MAX_PLAN_BYTES: u64 = 16 << 20;

/// Why [`read_limited`] refused a file. The messages are reasons, to follow "cannot read
/// FILE: ".
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A named pipe: opening it would wait for a writer.
    #[error("it is a named pipe (FIFO), not a file")]
    Fifo,
    /// A Unix socket.
    #[error("it is a socket, not a file")]
    Socket,
    /// Longer than the cap (or endless).
    #[error("it is larger than {} MiB", limit >> 20)]
    TooLarge {
        /// The cap, in bytes.
        limit: u64,
    },
    /// The OS refused to open or read it.
    #[error("{}", io_reason(source))]
    Io {
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A short reason for the common OS errors, the OS's text for the others.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory, not a file".into(),
        _ => e.to_string(),
    }
}

/// Reads at most `limit` bytes of `path`; a longer file (or device, or pipe) is an error,
/// found without reading more than `limit + 1` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Opening a named pipe waits for a writer: refused before it is opened (links followed,
    // so a link to a pipe is refused too).
    if let Ok(meta) = std::fs::metadata(path) {
        let kind = meta.file_type();
        if kind.is_fifo() {
            return Err(ReadError::Fifo);
        }
        if kind.is_socket() {
            return Err(ReadError::Socket);
        }
    }
    let io = |source| ReadError::Io { source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why() {
        let dir = std::env::temp_dir().join(format!("molotov-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small.txt");
        std::fs::write(&small, "hello").unwrap();
        assert_eq!(read_limited(&small, 5).unwrap(), b"hello");
        assert_eq!(
            read_limited(&small, 4).unwrap_err().to_string(),
            "it is larger than 0 MiB"
        );
        assert_eq!(
            read_limited(Path::new("/dev/zero"), MAX_PLAN_BYTES)
                .unwrap_err()
                .to_string(),
            "it is larger than 16 MiB"
        );
        assert_eq!(
            read_limited(&dir.join("nope"), 10).unwrap_err().to_string(),
            "no such file"
        );
        assert_eq!(
            read_limited(&dir, 10).unwrap_err().to_string(),
            "it is a directory, not a file"
        );
        // (A named pipe: tests/bad_input.rs, with a plan.)
        let socket = dir.join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(matches!(read_limited(&socket, 10), Err(ReadError::Socket)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
