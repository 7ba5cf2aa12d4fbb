//! Origins and URL splitting: [`Origin`] (`scheme://host[:port]`), [`split_url`] for an
//! absolute URL into its origin and the path-and-query that goes on the request line, and
//! name resolution of an origin ([`Origin::resolve`]).
//!
//! This is deliberately small: no userinfo, no percent-decoding, no relative references.
//! A fragment (`#...`) is never sent and is dropped by [`split_url`]. IPv6 literals are
//! written in brackets (`http://[::1]:8080`); [`Origin::host`] holds them without brackets.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use crate::error::Error;

/// The URL scheme of an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http`, default port 80.
    Http,
    /// `https`, default port 443 (TLS: see [`crate::tls`]).
    Https,
}

impl Scheme {
    /// The port used when the URL names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Where requests go: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host name or IP literal, IPv6 without brackets.
    pub host: String,
    /// The port (the scheme's default when the URL named none).
    pub port: u16,
}

impl Origin {
    /// Parses `http://host[:port]` (a single trailing `/` is allowed, nothing else after the
    /// authority).
    pub fn parse(text: &str) -> Result<Origin, Error> {
        let (origin, rest) = split_origin(text)?;
        if !rest.is_empty() && rest != "/" {
            return Err(invalid(text, "an origin has no path, query or fragment"));
        }
        Ok(origin)
    }

    /// The value of the `Host` header: `host` or `host:port` when the port is not the
    /// scheme's default, IPv6 literals in brackets.
    pub fn authority(&self) -> String {
        let host = self.bracketed_host();
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `host:port` with the port always written (IPv6 literals in brackets), for messages.
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    /// The host as written in a URL (IPv6 literals in brackets).
    fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Resolves the host to socket addresses (an IP literal without a lookup; a name with
    /// the system resolver, which blocks: do it once, not per request).
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, Error> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.port)]);
        }
        let resolved = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| Error::Resolve {
                host: self.host.clone(),
                reason: e.to_string(),
            })?;
        let addrs: Vec<SocketAddr> = resolved.collect();
        if addrs.is_empty() {
            return Err(Error::Resolve {
                host: self.host.clone(),
                reason: "no addresses".to_owned(),
            });
        }
        Ok(addrs)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.scheme.as_str(),
            self.bracketed_host(),
            self.port
        )
    }
}

/// Splits an absolute URL into its origin and the path-and-query for the request line
/// (`"/"` when the URL has no path). The fragment is dropped.
///
/// Because the returned path borrows from `url`, a URL with a query but no path
/// (`http://h?q=1`) is rejected rather than rewritten: write `http://h/?q=1`.
pub fn split_url(url: &str) -> Result<(Origin, &str), Error> {
    let (origin, rest) = split_origin(url)?;
    let rest = match rest.find('#') {
        Some(hash) => &rest[..hash],
        None => rest,
    };
    if rest.is_empty() {
        return Ok((origin, "/"));
    }
    if !rest.starts_with('/') {
        return Err(invalid(
            url,
            "a query needs a path first: write http://host/?query",
        ));
    }
    Ok((origin, rest))
}

/// Parses `scheme://authority` and returns the origin and everything after the authority.
fn split_origin(text: &str) -> Result<(Origin, &str), Error> {
    let (scheme, after_scheme) = if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
        (Scheme::Https, rest)
    } else {
        return Err(invalid(text, "the URL must start with http:// or https://"));
    };
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(authority_end);
    if authority.contains('@') {
        return Err(invalid(text, "user information in URLs is not supported"));
    }
    let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let close = bracketed
            .find(']')
            .ok_or_else(|| invalid(text, "unclosed '[' in the host"))?;
        let host = &bracketed[..close];
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid(text, "the bracketed host is not an IPv6 address"));
        }
        let after = &bracketed[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(invalid(text, "unexpected characters after the IPv6 host")),
        };
        (host, port)
    } else {
        match authority.rfind(':') {
            Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid(text, "the host is empty"));
    }
    if !authority.starts_with('[') && host.contains(':') {
        return Err(invalid(text, "IPv6 hosts must be written in brackets"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'%'))
    {
        return Err(invalid(
            text,
            "the host contains characters not allowed in a host",
        ));
    }
    let port = match port_text {
        None => scheme.default_port(),
        Some("") => return Err(invalid(text, "the port is empty")),
        Some(port) => {
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(text, "the port is not a number"));
            }
            match port.parse::<u16>() {
                Ok(0) | Err(_) => return Err(invalid(text, "the port must be in 1..=65535")),
                Ok(port) => port,
            }
        }
    };
    Ok((
        Origin {
            scheme,
            host: host.to_owned(),
            port,
        },
        rest,
    ))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn invalid(url: &str, reason: &'static str) -> Error {
    Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse() {
        let cases: &[(&str, Scheme, &str, u16, &str)] = &[
            (
                "http://example.com",
                Scheme::Http,
                "example.com",
                80,
                "example.com",
            ),
            (
                "http://example.com/",
                Scheme::Http,
                "example.com",
                80,
                "example.com",
            ),
            (
                "HTTP://Example.com:8080",
                Scheme::Http,
                "Example.com",
                8080,
                "Example.com:8080",
            ),
            ("https://h", Scheme::Https, "h", 443, "h"),
            ("https://h:80", Scheme::Https, "h", 80, "h:80"),
            (
                "http://127.0.0.1:3000",
                Scheme::Http,
                "127.0.0.1",
                3000,
                "127.0.0.1:3000",
            ),
            ("http://[::1]:8080", Scheme::Http, "::1", 8080, "[::1]:8080"),
            ("http://[::1]", Scheme::Http, "::1", 80, "[::1]"),
        ];
        for &(text, scheme, host, port, authority) in cases {
            let origin = Origin::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(origin.scheme, scheme, "{text}");
            assert_eq!(origin.host, host, "{text}");
            assert_eq!(origin.port, port, "{text}");
            assert_eq!(origin.authority(), authority, "{text}");
        }
    }

    #[test]
    fn bad_origins_are_errors() {
        let cases = [
            "",
            "example.com",
            "ftp://example.com",
            "http://",
            "http://:80",
            "http://h:",
            "http://h:0",
            "http://h:65536",
            "http://h:8x",
            "http://user@h",
            "http://[::1",
            "http://[zz]:80",
            "http://[::1]x",
            "http://::1:80",
            "http://h/path",
            "http://h?q",
            "http://h h",
            "http://h\r\n",
        ];
        for text in cases {
            let error = Origin::parse(text).expect_err(text);
            assert_eq!(error.kind(), crate::ErrorKind::InvalidRequest, "{text}");
        }
    }

    #[test]
    fn urls_split() {
        let cases: &[(&str, &str, u16, &str)] = &[
            ("http://h", "h", 80, "/"),
            ("http://h/", "h", 80, "/"),
            ("http://h:81/a/b?c=d&e", "h", 81, "/a/b?c=d&e"),
            ("http://h/a#frag", "h", 80, "/a"),
            ("http://h#frag", "h", 80, "/"),
            ("http://[::1]:9/x", "::1", 9, "/x"),
        ];
        for &(url, host, port, path) in cases {
            let (origin, got) = split_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!((origin.host.as_str(), origin.port, got), (host, port, path));
        }
        assert!(split_url("http://h?q=1").is_err());
        assert!(split_url("/relative").is_err());
    }

    #[test]
    fn ip_literals_resolve_without_lookup() {
        let origin = Origin::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            origin.resolve().unwrap(),
            vec!["[::1]:8080".parse().unwrap()]
        );
        let origin = Origin::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            origin.resolve().unwrap(),
            vec!["127.0.0.1:9".parse().unwrap()]
        );
        assert_eq!(origin.to_string(), "http://127.0.0.1:9");
    }

    #[test]
    fn unresolvable_names_are_resolve_errors() {
        let origin = Origin::parse("http://no-such-host.invalid").unwrap();
        let error = origin.resolve().unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Resolve);
    }
}
