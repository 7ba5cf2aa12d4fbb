//! Parsing of byte sizes on the command line: `0`, `4096`, `256K`, `256KiB`, `1M`, `1MiB`
//! (K and M are binary: 1,024 and 1,048,576), and `never` (the largest size, for thresholds
//! that should never be reached).

/// Parses a byte size; see the module documentation for the forms.
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok(usize::MAX);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "{text:?} is not a size: give bytes (4096), K or KiB, M or MiB (256K), or never"
        ));
    }
    let scale: usize = match unit {
        "" | "B" => 1,
        "K" | "KiB" => 1024,
        "M" | "MiB" => 1024 * 1024,
        other => {
            return Err(format!(
                "unknown unit {other:?}: give bytes (4096), K or KiB, M or MiB (256K), or never"
            ));
        }
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_their_units() {
        for (text, want) in [
            ("0", Ok(0)),
            ("4096", Ok(4096)),
            ("4096B", Ok(4096)),
            ("256K", Ok(256 * 1024)),
            (" 256KiB ", Ok(256 * 1024)),
            ("1M", Ok(1024 * 1024)),
            ("2MiB", Ok(2 * 1024 * 1024)),
            ("never", Ok(usize::MAX)),
            ("NEVER", Ok(usize::MAX)),
        ] {
            assert_eq!(parse_byte_size(text), want, "{text:?}");
        }
    }

    #[test]
    fn what_is_not_a_size_says_why() {
        for (text, says) in [
            ("", "is not a size"),
            ("K", "is not a size"),
            ("-1", "is not a size"),
            ("12G", "unknown unit \"G\""),
            ("1.5M", "unknown unit \".5M\""),
            ("99999999999999999999", "is too large"),
            ("99999999999999999M", "is too large"),
        ] {
            let err = parse_byte_size(text).expect_err(text);
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
