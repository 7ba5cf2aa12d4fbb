//! URL handling shared by the compiler and the interpreter: splitting an absolute URL into
//! its origin and path, telling what kind of URL reference a target's computed value is,
//! and choosing the escaping of each template hole of a target.

use std::borrow::Cow;

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
    // An internationalized name is sent (and looked up) in its ASCII form: the authority
    // is that host, then the port as written.
    let authority: Box<str> = match host {
        Cow::Borrowed(_) => authority.into(),
        Cow::Owned(ref ascii) => {
            let written = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            format!("{ascii}{}", &authority[written.len()..]).into()
        }
    };
    Ok((
        Origin {
            https,
            authority,
            host: host.into(),
            port,
        },
        after + end,
    ))
}

/// `text` as its author wrote it: the percent-encoded bytes that are not ASCII (how a
/// target's literal text reaches [`parse_origin`]: `é` is `%C3%A9` by then) decoded back.
pub(crate) fn as_written(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex_value),
                b.get(i + 2).copied().and_then(hex_value),
            )
            && hi >= 8
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// `text` for a message: its invisible characters (a zero-width joiner, a direction mark)
/// and control characters written as escapes (`\u{200d}`), the others as they are.
fn visible(text: &str) -> Cow<'_, str> {
    let hidden = |c: char| c.is_control() || (!c.is_ascii() && c.escape_debug().len() > 1);
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// The ASCII form of an internationalized host name (UTS #46, as curl and browsers look it
/// up and send it: `bücher.example` is `xn--bcher-kva.example`, a fullwidth `１` is `1`),
/// written raw or percent-encoded. `None` for a host that is ASCII already.
pub(crate) fn ascii_host(host: &str) -> Result<Option<String>, String> {
    if host.bytes().all(|b| b.is_ascii() && b != b'%') {
        return Ok(None);
    }
    let written = as_written(host);
    if written.is_ascii() {
        return Ok(None);
    }
    // A character that maps to one that delimits a URL's parts (a fullwidth `：`, `／` or
    // `＠`, which an input method types easily) would become part of the host (`127.0.0.1：80`
    // looked up as a name with a `:` in it) or, at run time, split the URL anew: refused, as
    // browsers refuse a forbidden domain code point.
    if let Some((c, mapped)) = written
        .chars()
        .filter(|c| !c.is_ascii())
        .find_map(|c| delimiter_look_alike(c).map(|m| (c, m)))
    {
        return Err(format!(
            "invalid host `{}`: `{c}` (U+{:04X}) stands for `{mapped}`, which cannot be \
             part of a host name (write `{mapped}` itself where it was meant)",
            visible(&written),
            c as u32
        ));
    }
    match idna::domain_to_ascii_cow(written.as_bytes(), idna::AsciiDenyList::URL) {
        Ok(ascii) if !ascii.is_empty() => Ok(Some(ascii.into_owned())),
        _ => Err(format!(
            "invalid host `{}`: not a valid internationalized domain name",
            visible(&written)
        )),
    }
}

/// The ASCII text non-ASCII `c` stands for in a host name (UTS #46 mapping) when that text
/// holds a character that cannot be in a host name (a URL delimiter, a space, a control
/// character): `：` is `:`, `／` is `/`, `＠` is `@`.
fn delimiter_look_alike(c: char) -> Option<String> {
    let mapped = idna::domain_to_ascii(c.encode_utf8(&mut [0; 4])).ok()?;
    mapped
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || b"%#/:<>?@[\\]^|".contains(&b))
        .then_some(mapped)
}

/// Checks the text between the brackets of `[v6]`: an IPv6 address, then maybe `%25` and a
/// zone (RFC 6874). It is never an internationalized name: no IDNA mapping applies.
fn check_ipv6(host: &str) -> Result<(), String> {
    let (address, zone) = match host.split_once("%25") {
        Some((a, z)) => (a, Some(z)),
        None => (host, None),
    };
    let zone_ok = zone.is_none_or(|z| {
        !z.is_empty()
            && z.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    if address.parse::<std::net::Ipv6Addr>().is_err() || !zone_ok {
        return Err(format!(
            "invalid IPv6 address `{}`",
            visible(&as_written(host))
        ));
    }
    Ok(())
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

/// `host[:port]` or `[v6]:port` into the host (brackets removed; an internationalized name
/// in its ASCII form) and the port.
pub(crate) fn split_authority(authority: &str, https: bool) -> Result<(Cow<'_, str>, u16), String> {
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
    let (host, port): (&str, _) = if let Some(v6) = authority.strip_prefix('[') {
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
    let host = if authority.starts_with('[') {
        check_ipv6(host)?;
        Cow::Borrowed(host)
    } else {
        match ascii_host(host)? {
            Some(ascii) => Cow::Owned(ascii),
            None => Cow::Borrowed(host),
        }
    };
    if host
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b"-._:~%".contains(&b)))
    {
        return Err(format!("invalid host `{}`", as_written(&host)));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("invalid port `{}`", as_written(p)))?,
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
    fn internationalized_hosts_are_sent_in_ascii() {
        for (url, authority, host) in [
            // Written raw (`base`) or percent-encoded (a target's literal text).
            (
                "http://bücher.localhost:1/x",
                "xn--bcher-kva.localhost:1",
                "xn--bcher-kva.localhost",
            ),
            (
                "http://b%C3%BCcher.localhost/x",
                "xn--bcher-kva.localhost",
                "xn--bcher-kva.localhost",
            ),
            (
                "https://B%C3%9CCHER.example:8443",
                "xn--bcher-kva.example:8443",
                "xn--bcher-kva.example",
            ),
            // A fullwidth digit is the digit.
            ("http://127.0.0.%EF%BC%91:80/", "127.0.0.1:80", "127.0.0.1"),
            // ASCII is kept as written (case included).
            ("http://Example.COM:8/", "Example.COM:8", "Example.COM"),
        ] {
            let (o, _) = parse_origin(url).unwrap();
            assert_eq!((&*o.authority, &*o.host), (authority, host), "{url}");
        }
        // Shown as written, not as encoded.
        assert_eq!(
            parse_origin("http://127.0.0.1:41878%C3%A9/x").unwrap_err(),
            "invalid port `41878é`"
        );
        // An invisible or direction-changing character is shown as an escape.
        let err = parse_origin("http://a%E2%80%AEb%00.example/").unwrap_err();
        assert!(err.starts_with("invalid host `a\\u{202e}b"), "{err}");
    }

    #[test]
    fn a_look_alike_of_a_delimiter_in_a_host_is_refused() {
        // IDNA maps a fullwidth `：` to `:` (`／` to `/`, `＠` to `@`): the host became
        // `127.0.0.1:8080` (a name, looked up on port 80), and at run time the URL was split
        // anew at that `:`. Raw (`base`, a run-time URL) and percent-encoded (a literal).
        for (url, host, c, mapped) in [
            ("http://127.0.0.1：8080/x", "127.0.0.1：8080", '：', ':'),
            (
                "http://127.0.0.1%EF%BC%9A8080/x",
                "127.0.0.1：8080",
                '：',
                ':',
            ),
            ("http://a／b.localhost/x", "a／b.localhost", '／', '/'),
            (
                "http://user＠bücher.localhost/",
                "user＠bücher.localhost",
                '＠',
                '@',
            ),
            ("http://a？b.localhost/", "a？b.localhost", '？', '?'),
            ("http://a＃b.localhost/", "a＃b.localhost", '＃', '#'),
            ("http://a％41.localhost/", "a％41.localhost", '％', '%'),
        ] {
            let err = parse_origin(url).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "invalid host `{host}`: `{c}` (U+{:04X}) stands for `{mapped}`, which \
                     cannot be part of a host name (write `{mapped}` itself where it was meant)",
                    c as u32
                ),
                "{url}"
            );
        }
        // A fullwidth dot or letter is that dot or letter.
        let (o, _) = parse_origin("http://ｂücher．localhost/").unwrap();
        assert_eq!(&*o.host, "xn--bcher-kva.localhost");
    }

    #[test]
    fn an_ipv6_literal_never_goes_through_idna() {
        for (url, host) in [
            ("http://[::1]:9/", "::1"),
            ("http://[::FFFF:127.0.0.1]/", "::FFFF:127.0.0.1"),
            ("http://[fe80::1%25eth0]:80/", "fe80::1%25eth0"),
        ] {
            let (o, _) = parse_origin(url).unwrap();
            assert_eq!(&*o.host, host, "{url}");
        }
        for (url, shown) in [
            // Was "not a valid internationalized domain name".
            ("http://[::\u{200d}1]:1/x", "::\\u{200d}1"),
            // Was accepted, and looked up as `::%C3%BF`.
            ("http://[::%C3%BF]:1/x", "::ÿ"),
            ("http://[::ÿ]:1/x", "::ÿ"),
            ("http://[::１]:1/x", "::１"),
            ("http://[g::1]/", "g::1"),
            ("http://[bücher.localhost]/", "bücher.localhost"),
            ("http://[::1%25]/", "::1%25"),
            ("http://[::1%25a b]/", "::1%25a b"),
        ] {
            assert_eq!(
                parse_origin(url).unwrap_err(),
                format!("invalid IPv6 address `{shown}`"),
                "{url}"
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
