//! The fast path of response-head parsing: one forward pass over the common shape of a head,
//! `HTTP/1.x DDD reason` CRLF, then `name: value` CRLF lines, then CRLF.
//!
//! It accepts a strict subset of what httparse accepts with the configuration that
//! [`crate::response`] uses, and for that subset it finds the same version, status, length
//! and fields (names and trimmed values, as byte ranges). Anything else is declined, and
//! httparse decides, with its own error if the head is malformed:
//! - a bare LF line ending, empty lines before the status line, a folded (obs-fold) line;
//! - a byte outside the plain grammar where it stands (its position decides the error);
//! - an incomplete head (httparse says `Partial`, or finds an error in what came so far);
//! - more fields than the caller's cap (httparse's `TooManyHeaders`).
//!
//! Why: httparse validates names byte by byte through a table and fills an array of header
//! slices, and molotov then walked that array for the framing fields: about 2,000
//! instructions for nginx's five-field head, the largest piece of molotov's own per-request
//! work. This pass tests sixteen bytes at a time (SSE2 on x86-64, two 64-bit words
//! elsewhere) for the common name and value bytes, takes the rare ones byte by byte, and
//! hands each field to the caller as it goes (benches/RESULTS.md has the counts).

use crate::request::is_token;

/// Bit of [`CLASS`]: a token character (RFC 9110 `tchar`), as httparse's name table.
const TOKEN: u8 = 1;
/// Bit of [`CLASS`]: a byte httparse accepts in a field value and in a reason phrase: HTAB,
/// SP to `~`, and obs-text (0x80 to 0xFF).
const VALUE: u8 = 2;

/// The class of every byte: [`TOKEN`] and [`VALUE`] bits.
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut class = 0;
        if is_token(b) {
            class |= TOKEN;
        }
        if b == b'\t' || (b >= 0x20 && b != 0x7f) {
            class |= VALUE;
        }
        table[i] = class;
        i += 1;
    }
    table
}

/// What the status line said, and where the head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Bytes of the head, the final empty line included.
    pub len: usize,
    /// The status code as written (three digits, 000 to 999).
    pub status: u16,
    /// `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub minor_version: u8,
}

/// Parses the head at the start of `bytes`, calling `field` with the name and the trimmed
/// value of each header field in order (subslices of `bytes`). `None`: declined (see the
/// module docs); `field` may have been called for some fields already.
pub(crate) fn parse<'a>(
    bytes: &'a [u8],
    max_fields: usize,
    mut field: impl FnMut(&'a [u8], &'a [u8]),
) -> Option<Head> {
    let (minor_version, status) = status_line(bytes)?;
    // After "HTTP/1.x DDD": either CRLF, or SP, a reason phrase and CRLF.
    let mut at = 12;
    if bytes.get(at) == Some(&b' ') {
        at = scan::<VALUE>(bytes, at + 1);
    }
    at = crlf(bytes, at)?;
    let mut fields = 0;
    loop {
        let name_end = scan::<TOKEN>(bytes, at);
        if name_end == at {
            // No name: the empty line that ends the head, or something uncommon.
            let len = crlf(bytes, at)?;
            return Some(Head {
                len,
                status,
                minor_version,
            });
        }
        if bytes.get(name_end) != Some(&b':') {
            return None;
        }
        let mut value_start = name_end + 1;
        while let Some(b' ' | b'\t') = bytes.get(value_start) {
            value_start += 1;
        }
        let mut value_end = scan::<VALUE>(bytes, value_start);
        let next = crlf(bytes, value_end)?;
        while value_end > value_start && matches!(bytes[value_end - 1], b' ' | b'\t') {
            value_end -= 1;
        }
        fields += 1;
        if fields > max_fields {
            return None;
        }
        field(&bytes[at..name_end], &bytes[value_start..value_end]);
        at = next;
    }
}

/// `HTTP/1.0 ` or `HTTP/1.1 ` and three digits: the minor version and the code.
fn status_line(bytes: &[u8]) -> Option<(u8, u16)> {
    let line = bytes.first_chunk::<12>()?;
    if &line[..7] != b"HTTP/1." || line[8] != b' ' {
        return None;
    }
    let minor_version = match line[7] {
        b'0' => 0,
        b'1' => 1,
        _ => return None,
    };
    let mut status = 0u16;
    for &digit in &line[9..12] {
        if !digit.is_ascii_digit() {
            return None;
        }
        status = status * 10 + u16::from(digit - b'0');
    }
    Some((minor_version, status))
}

/// The position after the CRLF at `at`, if there is one.
fn crlf(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at..at + 2)? {
        b"\r\n" => Some(at + 2),
        _ => None,
    }
}

/// The position of the first byte at or after `at` outside the [`CLASS`] bit `CLASS_BIT`
/// (or the length of `bytes`). Sixteen, then eight bytes at a time while none of them is a
/// misfit (outside the common subset of the class that [`block`] and [`word`] test), then
/// byte by byte from the first misfit, which ends the scan unless the class takes it.
fn scan<const CLASS_BIT: u8>(bytes: &[u8], mut at: usize) -> usize {
    while let Some(block) = bytes
        .get(at..at + 16)
        .and_then(|b| <&[u8; 16]>::try_from(b).ok())
    {
        let misfits = if CLASS_BIT == TOKEN {
            block::name_misfits(block)
        } else {
            block::value_misfits(block)
        };
        if misfits != 0 {
            return rest_of_scan::<CLASS_BIT>(bytes, at + misfits.trailing_zeros() as usize);
        }
        at += 16;
    }
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let chunk = u64::from_le_bytes(*chunk);
        let misfits = if CLASS_BIT == TOKEN {
            word::name_misfits(chunk)
        } else {
            word::value_misfits(chunk)
        };
        if misfits != 0 {
            // Little-endian: the lowest flagged lane is the first misfit.
            return rest_of_scan::<CLASS_BIT>(bytes, at + (misfits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    rest_of_scan::<CLASS_BIT>(bytes, at)
}

/// [`scan`] byte by byte from `at`.
fn rest_of_scan<const CLASS_BIT: u8>(bytes: &[u8], at: usize) -> usize {
    at + bytes[at..]
        .iter()
        .position(|&b| CLASS[usize::from(b)] & CLASS_BIT == 0)
        .unwrap_or(bytes.len() - at)
}

/// Sixteen bytes at a time: a bit per byte, set for the misfits. SSE2, which every x86-64
/// processor has (and every x86-64 build enables, unless told otherwise).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod block {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    /// Bytes other than SP to `~` and 0x80 up (HTAB, a misfit here, is taken byte by byte).
    pub(super) fn value_misfits(block: &[u8; 16]) -> u32 {
        // SAFETY: this module is built only where the target enables SSE2 (every x86-64
        // processor has it).
        unsafe { sse2_value_misfits(block) }
    }

    /// Bytes other than letters, digits and `-`.
    pub(super) fn name_misfits(block: &[u8; 16]) -> u32 {
        // SAFETY: as in `value_misfits`.
        unsafe { sse2_name_misfits(block) }
    }

    #[target_feature(enable = "sse2")]
    fn sse2_value_misfits(block: &[u8; 16]) -> u32 {
        let v = load(block);
        // A byte's own high bit marks obs-text, which fits too.
        misfits(_mm_or_si128(within(v, b' ', b'~'), v))
    }

    #[target_feature(enable = "sse2")]
    fn sse2_name_misfits(block: &[u8; 16]) -> u32 {
        let v = load(block);
        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
        let letter = within(folded, b'a', b'z');
        let digit = within(v, b'0', b'9');
        let dash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8));
        misfits(_mm_or_si128(letter, _mm_or_si128(digit, dash)))
    }

    #[target_feature(enable = "sse2")]
    fn load(block: &[u8; 16]) -> __m128i {
        // SAFETY: `block` is 16 readable bytes, and `_mm_loadu_si128` needs no alignment.
        unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
    }

    /// Lanes holding `lo..=hi`, with 0 < `lo` and `hi` < 0x7f (signed compares: 0x80 up is
    /// never inside).
    #[target_feature(enable = "sse2")]
    fn within(v: __m128i, lo: u8, hi: u8) -> __m128i {
        _mm_and_si128(
            _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
            _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
        )
    }

    /// A bit per lane, set where `fits` is not.
    #[target_feature(enable = "sse2")]
    fn misfits(fits: __m128i) -> u32 {
        !(_mm_movemask_epi8(fits) as u32) & 0xffff
    }
}

/// Sixteen bytes at a time as two words, where there is no SSE2 (and in tests, to check one
/// against the other).
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
mod portable_block {
    /// The misfit bits of the two halves of `block`, one bit per byte.
    fn halves(block: &[u8; 16], misfits: fn(u64) -> u64) -> u32 {
        let (low, high) = block.split_at(8);
        let bits = |half: &[u8]| {
            let lanes = misfits(u64::from_le_bytes(half.try_into().unwrap_or([0; 8])));
            // The high bit of lane i (bit 8i + 7) becomes bit i.
            (0..8).fold(0u32, |bits, lane| {
                bits | (((lanes >> (lane * 8 + 7)) & 1) as u32) << lane
            })
        };
        bits(low) | bits(high) << 8
    }

    /// As the SSE2 `value_misfits`.
    pub(super) fn value_misfits(block: &[u8; 16]) -> u32 {
        halves(block, super::word::value_misfits)
    }

    /// As the SSE2 `name_misfits`.
    pub(super) fn name_misfits(block: &[u8; 16]) -> u32 {
        halves(block, super::word::name_misfits)
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use portable_block as block;

/// Eight bytes at a time in a `u64` (byte `i` in bits `8i..8i+8`): the high bit of each
/// lane set for the misfits. Every byte is tested on its own: a lane never carries into
/// the next, since a byte under 0x80 plus at most 0x7f stays under 0x100.
mod word {
    const fn splat(byte: u8) -> u64 {
        u64::from_le_bytes([byte; 8])
    }

    const LANES: u64 = splat(0x80);

    /// Lanes of `word` (bytes under 0x80) holding `lo` to `hi`; `lo` >= 1.
    const fn within(word: u64, lo: u8, hi: u8) -> u64 {
        word.wrapping_add(splat(0x80 - lo)) & !word.wrapping_add(splat(0x7f - hi)) & LANES
    }

    /// As [`super::block::value_misfits`].
    pub(super) const fn value_misfits(word: u64) -> u64 {
        let low = word & splat(0x7f);
        let fits = (word & LANES) | within(low, b' ', b'~');
        !fits & LANES
    }

    /// As [`super::block::name_misfits`].
    pub(super) const fn name_misfits(word: u64) -> u64 {
        let low = word & splat(0x7f);
        let letter = within(low | splat(0x20), b'a', b'z');
        let digit = within(low, b'0', b'9');
        let dash = within(low, b'-', b'-');
        let fits = (letter | digit | dash) & !word;
        !fits & LANES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    const CAP: usize = 128;

    /// What a parse found: the head and each field's name and value, as their positions in
    /// the input (so equal positions mean the same bytes, and the same offsets for the
    /// fields that `response.rs` keeps as ranges).
    type Found = (Head, Vec<((usize, usize), (usize, usize))>);

    /// Where `part`, a subslice of `bytes`, lies in it.
    fn span(bytes: &[u8], part: &[u8]) -> (usize, usize) {
        let start = part.as_ptr() as usize - bytes.as_ptr() as usize;
        (start, start + part.len())
    }

    fn fast(bytes: &[u8], cap: usize) -> Option<Found> {
        let mut fields = Vec::new();
        let head = parse(bytes, cap, |name, value| {
            fields.push((span(bytes, name), span(bytes, value)));
        })?;
        Some((head, fields))
    }

    /// httparse's verdict with the configuration `response.rs` uses: `Ok(Some)` complete,
    /// `Ok(None)` partial, `Err` malformed.
    fn reference(bytes: &[u8], cap: usize) -> Result<Option<Found>, httparse::Error> {
        let mut headers = vec![MaybeUninit::<httparse::Header<'_>>::uninit(); cap];
        let mut response = httparse::Response::new(&mut []);
        match crate::response::httparse_config().parse_response_with_uninit_headers(
            &mut response,
            bytes,
            &mut headers,
        )? {
            httparse::Status::Partial => Ok(None),
            httparse::Status::Complete(len) => Ok(Some((
                Head {
                    len,
                    status: response.code.unwrap_or(0),
                    minor_version: response.version.unwrap_or(9),
                },
                response
                    .headers
                    .iter()
                    .map(|h| (span(bytes, h.name.as_bytes()), span(bytes, h.value)))
                    .collect(),
            ))),
        }
    }

    /// Whatever the fast path accepts, httparse accepts with the same result.
    fn agrees(bytes: &[u8], cap: usize) -> bool {
        match fast(bytes, cap) {
            Some(found) => {
                assert_eq!(
                    reference(bytes, cap).ok(),
                    Some(Some(found)),
                    "on {:?}",
                    String::from_utf8_lossy(bytes)
                );
                true
            }
            None => false,
        }
    }

    const NGINX: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 01:20:53 GMT\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\n{\"ok\":true}";

    #[test]
    fn common_heads_take_the_fast_path_with_httparse_s_result() {
        let cases: &[&[u8]] = &[
            NGINX,
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 204\r\n\r\n",
            b"HTTP/1.1 200 \r\nX: y\r\n\r\n",
            b"HTTP/1.1 999 odd\r\nEmpty:\r\nSpaces:   \t \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-Tabbed:\tvalue\twith\ttabs\t \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-High: caf\xc3\xa9 \xff\x80 and more bytes than eight\r\n\r\n",
            b"HTTP/1.1 200 \xe2\x9c\x93 fine\r\nA: b\r\n\r\nbody after",
            b"HTTP/1.1 000 zero\r\nweird!#$%&'*+-.^_`|~09: v\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: a value exactly 16b\r\nB: 12345678\r\n\r\n",
        ];
        for case in cases {
            assert!(
                agrees(case, CAP),
                "declined {:?}",
                String::from_utf8_lossy(case)
            );
        }
        let (head, fields) = fast(NGINX, CAP).expect("nginx's head is common");
        assert_eq!((head.status, head.minor_version), (200, 1));
        assert_eq!(head.len, NGINX.len() - 11);
        assert_eq!(fields.len(), 5);
        let (start, end) = fields[1].1;
        assert_eq!(&NGINX[start..end], b"Fri, 27 Nov 2026 01:20:53 GMT");
    }

    #[test]
    fn uncommon_or_malformed_heads_are_declined() {
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\nA: b\n\n",
            b"HTTP/1.1 200 OK\r\nA: b\n\r\n",
            b"\r\nHTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\x00c\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.2 200 OK\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1  200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r",
            b"HTTP/1.1 200 OK\r\nA: b",
            b"HTTP/1.1 20",
        ];
        for case in cases {
            assert_eq!(
                fast(case, CAP),
                None,
                "took {:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn more_fields_than_the_cap_are_declined() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..4 {
            head.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert!(agrees(&head, 4));
        assert_eq!(fast(&head, 3), None);
        assert!(reference(&head, 3).is_err());
        // And at the real cap: 128 fields pass, 129 go to httparse (TooManyHeaders).
        for (fields, fast_path) in [(CAP, true), (CAP + 1, false)] {
            let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..fields {
                head.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
            }
            head.extend_from_slice(b"\r\n");
            assert_eq!(agrees(&head, CAP), fast_path, "{fields} fields");
            assert_eq!(reference(&head, CAP).is_ok(), fast_path, "{fields} fields");
        }
    }

    #[test]
    fn every_byte_in_every_position_agrees_with_httparse() {
        // Each byte value written over each position of a small head: what the fast path
        // accepts, httparse accepts the same way; and the plain bytes are not all declined.
        let base = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A:  v w\t\r\nX-Long-Field-Name: more than sixteen\tbytes \r\n\r\n";
        let mut accepted = 0;
        for position in 0..base.len() {
            for byte in 0..=255u8 {
                let mut head = base.to_vec();
                head[position] = byte;
                if agrees(&head, CAP) {
                    accepted += 1;
                }
            }
        }
        // Every position keeps at least its own byte; most value positions take ~220.
        assert!(
            accepted > 3000,
            "only {accepted} variants took the fast path"
        );
    }

    #[test]
    fn every_truncation_is_declined_and_httparse_says_partial() {
        for end in 0..NGINX.len() - 11 {
            assert_eq!(fast(&NGINX[..end], CAP), None, "cut at {end}");
            assert!(matches!(reference(&NGINX[..end], CAP), Ok(None)));
        }
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn the_sse2_and_portable_blocks_flag_the_same_bytes() {
        for filler in [b'a', b'Z', b'5', b'-', b' ', b'~', 0x80, 0xff] {
            for position in 0..16 {
                for byte in 0..=255u8 {
                    let mut bytes = [filler; 16];
                    bytes[position] = byte;
                    assert_eq!(
                        block::value_misfits(&bytes),
                        portable_block::value_misfits(&bytes),
                        "value {bytes:?}"
                    );
                    assert_eq!(
                        block::name_misfits(&bytes),
                        portable_block::name_misfits(&bytes),
                        "name {bytes:?}"
                    );
                }
            }
        }
        // Blocks with several misfits at once (a fixed sequence of pseudo-random blocks).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            let mut bytes = [0u8; 16];
            for byte in bytes.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *byte = (x >> 24) as u8;
            }
            assert_eq!(
                block::value_misfits(&bytes),
                portable_block::value_misfits(&bytes)
            );
            assert_eq!(
                block::name_misfits(&bytes),
                portable_block::name_misfits(&bytes)
            );
        }
        // And they flag what the classes say, for every byte value.
        for byte in 0..=255u8 {
            let bytes = [byte; 16];
            let value_fits = CLASS[usize::from(byte)] & VALUE != 0 && byte != b'\t';
            assert_eq!(block::value_misfits(&bytes) == 0, value_fits, "{byte:#x}");
            let name_fits = byte.is_ascii_alphanumeric() || byte == b'-';
            assert_eq!(block::name_misfits(&bytes) == 0, name_fits, "{byte:#x}");
        }
    }

    const STATUS_LINES: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.0 301 \r\n",
        b"HTTP/1.1 500\r\n",
    ];

    /// Bytes for random names: mostly token bytes, some that are not.
    const NAME_BYTES: &[u8] = b"aZz09-_!~.|`^ :\x80\x7f";
    /// Between name and value: the usual, and what httparse rejects in responses.
    const SEPARATORS: [&[u8]; 6] = [b":", b": ", b":\t ", b" :", b"", b":  \t"];
    /// Bytes for random values: mostly value bytes, some that end or break a line.
    const VALUE_BYTES: &[u8] = b"aZ 09\t,;-:\x80\xff~!\x7f\x00\r\n\x1f";

    proptest::proptest! {
        #[test]
        fn random_heads_agree_with_httparse(
            lines in proptest::collection::vec(
                (
                    proptest::collection::vec(proptest::sample::select(NAME_BYTES), 0..20),
                    proptest::sample::select(&SEPARATORS[..]),
                    proptest::collection::vec(proptest::sample::select(VALUE_BYTES), 0..40),
                ),
                0..8,
            ),
            status in proptest::sample::select(&STATUS_LINES[..]),
        ) {
            let mut head = status.to_vec();
            for (name, separator, value) in &lines {
                head.extend_from_slice(name);
                head.extend_from_slice(separator);
                head.extend_from_slice(value);
                head.extend_from_slice(b"\r\n");
            }
            head.extend_from_slice(b"\r\n");
            agrees(&head, CAP);
        }
    }
}
