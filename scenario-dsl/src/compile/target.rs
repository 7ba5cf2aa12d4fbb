//! URL handling shared by the compiler and the interpreter: splitting an absolute URL into
//! its origin and path, telling what kind of URL reference a target's computed value is,
//! and choosing the escaping of each template hole of a target.

use crate::code::{Escape, Origin};

/// Splits `http[s]://authority/rest` into an [`Origin`] and the byte index where the path
/// (or query) starts in `url`.
pub(crate) fn parse_origin(url: &str) -> Result<(Origin, usize), String> {
    let (https, after) = if starts_with_ignore_case(url, "http://") {
        (false, 7)
    } else if starts_with_ignore_case(url, "https://") {
        (true, 8)
    } else {
        return Err("expected `http://` or `https://`".into());
    };
    let rest = &url[after..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (host, port) = split_authority(authority, https)?;
    Ok((
        Origin {
            https,
            authority: authority.into(),
            host: host.into(),
            port,
        },
        after + end,
    ))
}

/// What a value at the start of a target (a template there: a captured `Location`, a
/// constant) is, as a URL reference (RFC 3986 §4.1), and so how it is resolved against the
/// plan's `base` (RFC 3986 §5.2, as a `Location` header is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    /// `http://…` or `https://…`: used as is.
    Absolute,
    /// `//host/path`: the base's scheme, then this.
    NetworkPath,
    /// `/path`: on the base's origin, the path as is (no base path prefix).
    AbsolutePath,
    /// `path`, `../path`, `?query` (no leading `/`, no scheme): under the base's path, taken
    /// as a directory (`/api` and `/api/` are alike, as for literal paths).
    RelativePath,
}

/// The kind of reference `text` is (its fragment already cut off), or why it cannot be a
/// request target.
pub(crate) fn reference_kind(text: &str) -> Result<Reference, &'static str> {
    let b = text.as_bytes();
    if b.is_empty() {
        return Err("an empty target");
    }
    if b.starts_with(b"//") {
        return Ok(Reference::NetworkPath);
    }
    if b[0] == b'/' {
        return Ok(Reference::AbsolutePath);
    }
    // A scheme is a letter, then letters, digits, `+`, `-` or `.`, up to a `:`.
    let scheme_end = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')));
    if b[0].is_ascii_alphabetic() && scheme_end.is_some_and(|i| b[i] == b':') {
        return if starts_with_ignore_case(text, "http://")
            || starts_with_ignore_case(text, "https://")
        {
            Ok(Reference::Absolute)
        } else {
            Err("neither an absolute http(s) URL nor a path")
        };
    }
    // A leading space or control character (percent-encoded by now) is a broken value, not
    // a path segment.
    if let [b'%', hi, lo, ..] = b
        && let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo))
        && matches!(hi << 4 | lo, 0..=0x20 | 0x7f)
    {
        return Err("it starts with a space or a control character");
    }
    Ok(Reference::RelativePath)
}

/// The value of an ASCII hex digit.
fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// A URL or target written in quotes, as code in other tools has it (`"http://h:8080"`,
/// `'/json'`): the text without its quotes. `None` when `text` does not start with a quote.
pub(crate) fn unquoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &text[1..];
    Some(inner.strip_suffix(quote).unwrap_or(inner))
}

pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `host[:port]` or `[v6]:port` into the host (brackets removed) and the port.
pub(crate) fn split_authority(authority: &str, https: bool) -> Result<(&str, u16), String> {
    let default_port = if https { 443 } else { 80 };
    if authority.is_empty() {
        return Err("missing host".into());
    }
    if authority.contains('@') {
        return Err(
            "user names and passwords in URLs are not supported (use an `Authorization` header)"
                .into(),
        );
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some(close) = v6.find(']') else {
            return Err("unclosed `[` in an IPv6 host".into());
        };
        let host = &v6[..close];
        match &v6[close + 1..] {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(format!("unexpected `{p}` after the IPv6 host")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    // Outside brackets a `:` only comes before the port: `::1:8080` or `a:1:2` would be
    // taken apart at the last one (an invalid `Host` header, or a host named `:`).
    if !authority.starts_with('[') && host.contains(':') {
        return Err(format!(
            "invalid host `{host}`: put an IPv6 address in brackets (`[::1]:8080`); \
             a name or an IPv4 address has one `:`, before the port"
        ));
    }
    if host
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b"-._:~%".contains(&b)))
    {
        return Err(format!("invalid host `{host}`"));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port `{p}`"))?,
    };
    Ok((host, port))
}

/// Where the next part of a target sits, while reading it left to right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlPart {
    /// Scheme and authority (or a whole URL from a template at the start).
    Origin,
    Path,
    Query,
}

impl UrlPart {
    pub(crate) fn escape(self) -> Escape {
        match self {
            UrlPart::Origin => Escape::UrlStart,
            UrlPart::Path => Escape::Path,
            UrlPart::Query => Escape::Query,
        }
    }

    /// The part after reading literal text `lit` (`first` when it starts the target).
    pub(crate) fn after(self, lit: &str, first: bool) -> UrlPart {
        let mut part = self;
        let mut text = lit;
        if first
            && part == UrlPart::Origin
            && let Some(i) = text.find("://")
        {
            text = &text[i + 3..];
        }
        for b in text.bytes() {
            part = match (part, b) {
                (UrlPart::Origin, b'/') => UrlPart::Path,
                (UrlPart::Origin | UrlPart::Path, b'?') => UrlPart::Query,
                (p, _) => p,
            };
        }
        part
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_table() {
        let ok = [
            ("http://h", false, "h", "h", 80, 8),
            ("https://h:8443/x", true, "h:8443", "h", 8443, 14),
            (
                "HTTP://127.0.0.1:8080?q",
                false,
                "127.0.0.1:8080",
                "127.0.0.1",
                8080,
                21,
            ),
            ("http://[::1]:9/p", false, "[::1]:9", "::1", 9, 14),
        ];
        for (url, https, authority, host, port, rest) in ok {
            let (o, r) = parse_origin(url).unwrap();
            assert_eq!(
                (o.https, &*o.authority, &*o.host, o.port, r),
                (https, authority, host, port, rest),
                "{url}"
            );
        }
        for bad in [
            "ftp://h",
            "http://",
            "http://h:x",
            "http://h:0",
            "http://u:p@h",
            "http://[::1",
            "http://a b",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
        // Colons outside brackets: refused, not taken apart at the last one (they were:
        // `Host: ::1:18432`, or a host named `:`).
        for bad in [
            "http://::1:18432",
            "http://::1",
            "http://127.0.0.1:18431:18431",
            "https://a:1:2/x",
            "http://fe80::1%25eth0:80",
        ] {
            let err = parse_origin(bad).unwrap_err();
            assert!(
                err.contains("put an IPv6 address in brackets (`[::1]:8080`)"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn reference_kinds() {
        use Reference::*;
        for (text, want) in [
            ("http://h/x", Ok(Absolute)),
            ("HTTPS://h", Ok(Absolute)),
            ("//h:1/x", Ok(NetworkPath)),
            ("/x", Ok(AbsolutePath)),
            ("/", Ok(AbsolutePath)),
            ("cart/42", Ok(RelativePath)),
            ("?q=1", Ok(RelativePath)),
            ("../x", Ok(RelativePath)),
            ("a%3Ab", Ok(RelativePath)),
            ("x/a:b", Ok(RelativePath)),
            ("%41/x", Ok(RelativePath)),
            ("", Err("an empty target")),
            ("ftp://h", Err("neither an absolute http(s) URL nor a path")),
            ("http:/x", Err("neither an absolute http(s) URL nor a path")),
            (
                "localhost:8080/x",
                Err("neither an absolute http(s) URL nor a path"),
            ),
            (
                "%20/x",
                Err("it starts with a space or a control character"),
            ),
            ("%0a", Err("it starts with a space or a control character")),
            ("%7F", Err("it starts with a space or a control character")),
        ] {
            assert_eq!(reference_kind(text), want, "{text}");
        }
    }

    #[test]
    fn url_parts_follow_the_text() {
        assert_eq!(UrlPart::Origin.after("http://h", true), UrlPart::Origin);
        assert_eq!(UrlPart::Origin.after("http://h/a", true), UrlPart::Path);
        assert_eq!(UrlPart::Path.after("/a?b=", false), UrlPart::Query);
        assert_eq!(UrlPart::Query.after("/x", false), UrlPart::Query);
        assert_eq!(UrlPart::Origin.after("/users/", false), UrlPart::Path);
    }
}
