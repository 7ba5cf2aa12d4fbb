//! Helpers shared by the integration tests: running a future on a molotov-runtime executor,
//! starting the in-repo target server, sending one request with a client (expecting a
//! response or an error), and running many clients at once.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use molotov_http::{
    Client, ClientConfig, ClientCounters, Error, ErrorKind, Method, Origin, RequestMeta,
    ResponseNeeds, render_request,
};
use molotov_target::{ServerConfig, ServerHandle};

/// Generous deadline for requests that must succeed.
pub const OK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `future` to completion on a fresh executor on this thread. With
/// `MOLOTOV_TEST_MULTISHOT_RECV=1` in the environment, the executor's streams read with
/// multishot receives (`scripts/test` runs the client's tests both ways).
pub fn run<T>(future: impl Future<Output = T>) -> T {
    molotov_runtime::Executor::new()
        .multishot_recv(std::env::var_os("MOLOTOV_TEST_MULTISHOT_RECV").is_some_and(|v| v == "1"))
        .run(future)
        .expect("the executor (io_uring) runs")
}

/// Starts a target server with the default config.
pub fn server() -> ServerHandle {
    server_with(ServerConfig::default())
}

pub fn server_with(config: ServerConfig) -> ServerHandle {
    molotov_target::start(config).expect("target server starts")
}

pub fn origin(server: &ServerHandle) -> Origin {
    Origin::parse(&format!("http://{}", server.addr())).unwrap()
}

pub fn client(server: &ServerHandle) -> Client {
    Client::new(origin(server), ClientConfig::default())
}

pub fn client_with(server: &ServerHandle, config: ClientConfig) -> Client {
    Client::new(origin(server), config)
}

/// Renders a request for `client`'s origin.
pub fn request(client: &Client, method: &Method, path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let headers: [(&str, &[u8]); 0] = [];
    render_request(
        &mut out,
        method,
        &client.origin().authority(),
        path,
        headers,
        body,
    )
    .unwrap();
    out
}

/// What a test usually looks at in a response, copied out of the client's buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub status: u16,
    pub body: Vec<u8>,
    pub body_len: u64,
    pub reused: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub headers: Vec<(String, Vec<u8>)>,
    pub trailers: Vec<(String, Vec<u8>)>,
    pub connect: Option<Duration>,
    pub ttfb: Duration,
    pub total: Duration,
    pub finished_at: Instant,
}

/// Sends one request and copies out the response.
pub async fn send(
    client: &mut Client,
    method: Method,
    path: &str,
    body: &[u8],
    needs: &ResponseNeeds,
    timeout: Duration,
) -> Result<Got, Error> {
    let bytes = request(client, &method, path, body);
    let meta = RequestMeta::for_method(&method);
    let response = client.send(&bytes, meta, needs, timeout).await?;
    let own = |(name, value): (&str, &[u8])| (name.to_owned(), value.to_vec());
    Ok(Got {
        status: response.status(),
        body: response.body().to_vec(),
        body_len: response.body_len(),
        reused: response.reused_connection(),
        bytes_sent: response.bytes_sent(),
        bytes_received: response.bytes_received(),
        headers: response.headers().map(own).collect(),
        trailers: response.trailers().map(own).collect(),
        connect: response.timings().connect,
        ttfb: response.timings().ttfb,
        total: response.timings().total,
        finished_at: response.finished_at(),
    })
}

/// Sends one request with the generous deadline; panics, naming the request, on error.
pub async fn send_ok(
    client: &mut Client,
    method: Method,
    path: &str,
    body: &[u8],
    needs: &ResponseNeeds,
) -> Got {
    let name = format!("{method} {path}");
    send(client, method, path, body, needs, OK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Sends one request with a deadline, expecting an error; panics, naming the request, on a
/// response.
pub async fn send_err(
    client: &mut Client,
    method: Method,
    path: &str,
    body: &[u8],
    needs: &ResponseNeeds,
    timeout: Duration,
) -> Error {
    let name = format!("{method} {path}");
    match send(client, method, path, body, needs, timeout).await {
        Ok(got) => panic!("{name}: expected an error, got status {}", got.status),
        Err(e) => e,
    }
}

/// GET `path` keeping everything, with the generous deadline; panics on error.
pub async fn get_ok(client: &mut Client, path: &str) -> Got {
    send_ok(client, Method::GET, path, b"", &ResponseNeeds::EVERYTHING).await
}

/// HEAD `path` keeping everything, with the generous deadline; panics on error.
pub async fn head_ok(client: &mut Client, path: &str) -> Got {
    send_ok(client, Method::HEAD, path, b"", &ResponseNeeds::EVERYTHING).await
}

/// POST `body` to `path` keeping everything, with the generous deadline; panics on error.
pub async fn post_ok(client: &mut Client, path: &str, body: &[u8]) -> Got {
    send_ok(client, Method::POST, path, body, &ResponseNeeds::EVERYTHING).await
}

/// GET `path` with a deadline, expecting an error.
pub async fn get_err(client: &mut Client, path: &str, timeout: Duration) -> Error {
    send_err(
        client,
        Method::GET,
        path,
        b"",
        &ResponseNeeds::EVERYTHING,
        timeout,
    )
    .await
}

/// GET `path` keeping only the status, with a deadline, expecting an error.
pub async fn get_status_err(client: &mut Client, path: &str, timeout: Duration) -> Error {
    send_err(
        client,
        Method::GET,
        path,
        b"",
        &ResponseNeeds::STATUS_ONLY,
        timeout,
    )
    .await
}

/// Checks that `error` is of `kind` and that its message holds every one of `words` (a
/// failure points at the caller's line).
#[track_caller]
pub fn assert_error(error: &Error, kind: ErrorKind, words: &[&str]) {
    assert_eq!(error.kind(), kind, "{error}");
    for word in words {
        assert!(error.to_string().contains(word), "{word:?} not in: {error}");
    }
}

/// Waits for every task, in order, and returns their outputs.
pub async fn join_all<T: 'static>(tasks: Vec<molotov_runtime::Task<T>>) -> Vec<T> {
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await);
    }
    outputs
}

/// Runs `clients` tasks on one executor, each with a client from `new_client`, each sending
/// `per_client` `GET /` in turn: per client, how many were answered 200, and its counters.
pub fn many_clients(
    clients: u64,
    per_client: u64,
    new_client: impl Fn() -> Client,
) -> Vec<(u64, ClientCounters)> {
    run(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let mut client = new_client();
                molotov_runtime::spawn_local(async move {
                    let mut ok = 0u64;
                    for _ in 0..per_client {
                        if get_ok(&mut client, "/").await.status == 200 {
                            ok += 1;
                        }
                    }
                    (ok, client.counters())
                })
            })
            .collect();
        join_all(tasks).await
    })
}

/// What the target server sends for `/bytes/{n}`: its 64 KiB pattern chunk over and over.
pub fn pattern_body(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b'a' + ((i % (64 << 10)) % 26) as u8)
        .collect()
}
