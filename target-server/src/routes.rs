//! The routes: what each request path answers. Plain replies are appended to the output
//! buffer here; replies that take time or misbehave are returned as an [`Action`] for the
//! connection loop to carry out. The route table is documented in docs/target-server.md.

use std::time::Duration;

use crate::stats::Shared;
use crate::tls::TlsFacts;
use crate::wire::{self, FIXED_JSON, Persist, Reply};

/// Longest `/delay/{ms}` accepted.
pub const MAX_DELAY_MS: u64 = 60_000;
/// Largest `/bytes/{n}` accepted (1 GiB).
pub const MAX_BYTES: u64 = 1 << 30;
/// Items per page of `/products`.
pub const PAGE_SIZE: u64 = 10;
/// Highest product id (and `PAGE_SIZE * pages`).
pub const MAX_PRODUCT: u64 = 10_000;
/// Routes have at most this many path segments (longer paths are not found).
const MAX_SEGMENTS: usize = 3;
/// The body of `/chunked`, as its chunks.
pub const CHUNKS: [&str; 3] = ["hello ", "chunked ", "world"];

/// A JSON error reply `{"error":"<message>"}` (message: a literal without quotes).
macro_rules! error_json {
    ($status:expr, $message:literal) => {
        Reply::json(
            $status,
            concat!(r#"{"error":""#, $message, r#""}"#).as_bytes(),
        )
    };
}

/// A parsed request, borrowed from the connection's buffer.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query as sent.
    pub target: &'a str,
    pub headers: &'a [httparse::Header<'a>],
    pub body: &'a [u8],
    /// What the connection's TLS handshake negotiated (`None` on plain HTTP).
    pub tls: Option<&'a TlsFacts>,
}

impl Request<'_> {
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// How the connection continues after a plain reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Keep serving (unless `persist` said close).
    Continue,
    /// Close after writing (the reply carried `Connection: close`).
    Close,
    /// Close after writing without having said so (a server dropping an idle connection).
    CloseSilently,
}

/// What the connection loop must do for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A reply was appended to the output; `counted` is false for `/stats`.
    Replied { counted: bool, after: After },
    /// Wait, then reply with the fixed JSON.
    Delay(Duration),
    /// A head with `Content-Length: n` was appended; stream `n` body bytes (none for HEAD).
    Bytes(u64),
    /// Misbehave.
    Hostile(Hostile),
}

/// The misbehaviours, one per `/hostile/...` route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    Never,
    Slowloris,
    Garbage,
    Truncated,
    InfiniteChunked,
    HugeHeaders,
    WrongLength,
    Reset,
    CloseBeforeResponse,
}

/// Routes `request`, appending plain replies to `out`.
pub fn route(
    request: &Request<'_>,
    persist: Persist,
    shared: &Shared,
    out: &mut Vec<u8>,
) -> Action {
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.target, None),
    };
    let head = request.is_head();
    let reply = |out: &mut Vec<u8>, r: Reply<'_>| {
        wire::append(out, &r, head, persist);
        Action::Replied {
            counted: true,
            after: After::Continue,
        }
    };
    let mut segments = [""; MAX_SEGMENTS + 1];
    let mut count = 0;
    for segment in path.trim_start_matches('/').split('/') {
        if count == segments.len() {
            break;
        }
        segments[count] = segment;
        count += 1;
    }
    match (request.method, &segments[..count]) {
        (_, [""] | ["json"]) => reply(out, Reply::json(200, FIXED_JSON)),
        (_, ["echo"]) => {
            let content_type = request
                .header("content-type")
                .and_then(|v| std::str::from_utf8(v).ok())
                .unwrap_or("application/octet-stream");
            reply(
                out,
                Reply {
                    status: 200,
                    content_type: Some(content_type),
                    extra: &[],
                    body: request.body,
                },
            )
        }
        (_, ["headers"]) => {
            let mut map = serde_json::Map::new();
            for header in request.headers {
                let value = String::from_utf8_lossy(header.value).into_owned();
                map.insert(header.name.to_ascii_lowercase(), value.into());
            }
            let body = serde_json::Value::Object(map).to_string();
            reply(out, Reply::json(200, body.as_bytes()))
        }
        (_, ["status", code]) => match code.parse::<u16>() {
            Ok(code @ 200..=599) => {
                let body = format!(r#"{{"status":{code}}}"#);
                reply(out, Reply::json(code, body.as_bytes()))
            }
            _ => reply(out, error_json!(400, "status must be 200..=599")),
        },
        (_, ["delay", ms]) => match ms.parse::<u64>() {
            Ok(ms) if ms <= MAX_DELAY_MS => Action::Delay(Duration::from_millis(ms)),
            _ => reply(out, error_json!(400, "delay must be 0..=60000 ms")),
        },
        (_, ["slow"]) => Action::Delay(Duration::from_millis(50)),
        (_, ["bytes", n]) => match n.parse::<u64>() {
            Ok(n) if n <= MAX_BYTES => {
                wire::append_head(out, 200, Some("application/octet-stream"), &[], persist);
                wire::append_header_decimal(out, "Content-Length", n);
                out.extend_from_slice(b"\r\n");
                Action::Bytes(if head { 0 } else { n })
            }
            _ => reply(out, error_json!(400, "n must be 0..=1073741824")),
        },
        (_, ["chunked"]) => {
            wire::append_head(
                out,
                200,
                Some("text/plain"),
                &[("Transfer-Encoding", "chunked"), ("Trailer", "X-Trailer")],
                persist,
            );
            out.extend_from_slice(b"\r\n");
            if !head {
                for (i, chunk) in CHUNKS.iter().enumerate() {
                    out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
                    if i == 1 {
                        out.extend_from_slice(b";ext=1");
                    }
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(chunk.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\nX-Trailer: done\r\n\r\n");
            }
            Action::Replied {
                counted: true,
                after: After::Continue,
            }
        }
        (_, ["close"]) => {
            wire::append(out, &Reply::json(200, FIXED_JSON), head, Persist::Close);
            Action::Replied {
                counted: true,
                after: After::Close,
            }
        }
        (_, ["close", "silent"]) => {
            wire::append(out, &Reply::json(200, FIXED_JSON), head, persist);
            Action::Replied {
                counted: true,
                after: After::CloseSilently,
            }
        }
        (_, ["interim"]) => {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            out.extend_from_slice(
                b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            );
            reply(out, Reply::json(200, FIXED_JSON))
        }
        (_, ["tls"]) => {
            let body = match request.tls {
                Some(facts) => facts.to_json(),
                None => r#"{"tls":false}"#.to_owned(),
            };
            reply(out, Reply::json(200, body.as_bytes()))
        }
        (_, ["stats"]) => {
            let body = format!(
                r#"{{"requests_answered":{},"connections_accepted":{}}}"#,
                shared.answered(),
                shared.accepted()
            );
            wire::append(out, &Reply::json(200, body.as_bytes()), head, persist);
            Action::Replied {
                counted: false,
                after: After::Continue,
            }
        }
        ("POST", ["login"]) => reply(out, login(request.body).as_reply()),
        ("GET" | "HEAD", ["products"]) => {
            let page = query_param(query, "page").map_or(Ok(1), str::parse::<u64>);
            match page {
                Ok(page @ 1..=1000) => {
                    let first = (page - 1) * PAGE_SIZE + 1;
                    let items: Vec<serde_json::Value> = (first..first + PAGE_SIZE)
                        .map(|id| serde_json::json!({"id": id, "name": product_name(id)}))
                        .collect();
                    let body = serde_json::json!({"page": page, "items": items}).to_string();
                    reply(out, Reply::json(200, body.as_bytes()))
                }
                _ => reply(out, error_json!(400, "page must be 1..=1000")),
            }
        }
        ("GET" | "HEAD", ["products", id]) => match id.parse::<u64>() {
            Ok(id @ 1..=MAX_PRODUCT) => {
                let body = serde_json::json!({
                    "id": id,
                    "name": product_name(id),
                    "price": (id % 100) as f64 + 0.99,
                })
                .to_string();
                reply(out, Reply::json(200, body.as_bytes()))
            }
            _ => reply(out, error_json!(404, "no such product")),
        },
        ("POST", ["cart"]) => {
            let cart = shared.new_cart();
            let location = format!("/cart/{cart}");
            let body = format!(r#"{{"id":{cart}}}"#);
            reply(
                out,
                Reply {
                    status: 201,
                    content_type: Some("application/json"),
                    extra: &[("Location", &location)],
                    body: body.as_bytes(),
                },
            )
        }
        ("GET" | "HEAD", ["cart", n]) => match n.parse::<u64>() {
            Ok(n) if n >= 1 && n <= shared.carts() => {
                let body = format!(r#"{{"id":{n},"items":[]}}"#);
                reply(out, Reply::json(200, body.as_bytes()))
            }
            _ => reply(out, error_json!(404, "no such cart")),
        },
        ("POST", ["logout"]) => reply(out, Reply::empty(204)),
        ("POST", ["admin", "reset"]) => {
            shared.reset_demo();
            reply(out, Reply::empty(204))
        }
        (_, ["login" | "logout" | "cart" | "products"])
        | (_, ["admin", "reset"] | ["cart", _] | ["products", _]) => {
            reply(out, error_json!(405, "method not allowed"))
        }
        (_, ["hostile", what]) => match *what {
            "never" => Action::Hostile(Hostile::Never),
            "slowloris" => Action::Hostile(Hostile::Slowloris),
            "garbage" => Action::Hostile(Hostile::Garbage),
            "truncated" => Action::Hostile(Hostile::Truncated),
            "infinite-chunked" => Action::Hostile(Hostile::InfiniteChunked),
            "huge-headers" => Action::Hostile(Hostile::HugeHeaders),
            "wrong-length" => Action::Hostile(Hostile::WrongLength),
            "reset" => Action::Hostile(Hostile::Reset),
            "close-before-response" => Action::Hostile(Hostile::CloseBeforeResponse),
            _ => reply(out, error_json!(404, "no such misbehaviour")),
        },
        _ => reply(out, error_json!(404, "not found")),
    }
}

/// The outcome of `POST /login`.
struct Login {
    status: u16,
    body: String,
}

impl Login {
    fn as_reply(&self) -> Reply<'_> {
        Reply::json(self.status, self.body.as_bytes())
    }
}

fn login(body: &[u8]) -> Login {
    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(body);
    let field = |value: &serde_json::Value, name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match parsed {
        Ok(value) => match (field(&value, "user"), field(&value, "password")) {
            (Some(user), Some(_)) => Login {
                status: 200,
                body: serde_json::json!({"token": format!("tok-{user}")}).to_string(),
            },
            _ => Login {
                status: 400,
                body: r#"{"error":"user and password are required"}"#.to_owned(),
            },
        },
        Err(_) => Login {
            status: 400,
            body: r#"{"error":"the body must be JSON"}"#.to_owned(),
        },
    }
}

fn product_name(id: u64) -> String {
    format!("Product {id}")
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}
