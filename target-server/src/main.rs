//! The `molotov-target` binary: runs the target server (HTTP, or HTTPS with `--tls`) until
//! SIGINT or SIGTERM, then prints how many requests it answered.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use nix::sys::signal::{SigSet, Signal};

/// A small fast HTTP target server for molotov (routes: see docs/target-server.md).
#[derive(Debug, Parser)]
#[command(name = "molotov-target", version)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Executor threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Answer 503 beyond this many requests in flight.
    #[arg(long)]
    max_concurrency: Option<usize>,
    /// Answer every request with `Connection: close`.
    #[arg(long)]
    close: bool,
    /// Pin thread i to CPU cpus[i % len] (comma-separated list).
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// Serve HTTPS with a certificate authority and server certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// Write the generated CA certificate (PEM) to FILE, for clients' `--cacert FILE`.
    #[arg(long, value_name = "FILE", requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Names the server certificate is valid for (comma-separated DNS names or IPs).
    #[arg(
        long,
        value_delimiter = ',',
        requires = "tls",
        default_value = "localhost,127.0.0.1,::1"
    )]
    tls_names: Vec<String>,
    /// Offer TLS 1.2 only (default: 1.2 and 1.3).
    #[arg(long, requires = "tls")]
    tls12_only: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Block the stop signals before any thread exists so that every thread inherits the
    // mask and only the `wait` below receives them.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    if let Err(e) = signals.thread_block() {
        eprintln!("molotov-target: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    let tls = if args.tls {
        let names: Vec<&str> = args.tls_names.iter().map(String::as_str).collect();
        let identity = match molotov_target::TlsIdentity::for_names(&names) {
            Ok(identity) => identity,
            Err(e) => {
                eprintln!("molotov-target: cannot generate the TLS certificates: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(path) = &args.cert_out
            && let Err(e) = std::fs::write(path, identity.ca_pem())
        {
            eprintln!("molotov-target: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        Some(molotov_target::ServerTls {
            identity,
            tls12_only: args.tls12_only,
        })
    } else {
        None
    };
    let config = molotov_target::ServerConfig {
        addr: args.addr,
        threads: args.threads,
        max_concurrency: args.max_concurrency,
        close_every_response: args.close,
        cpus: args.cpus,
        tls,
        ..Default::default()
    };
    let server = match molotov_target::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("molotov-target: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}://{}", server.scheme(), server.addr());
    if let Some(path) = &args.cert_out {
        println!("CA certificate written to {}", path.display());
    }
    let received = signals.wait();
    // The counts returned by `stop` are final: every thread has finished.
    let answered = answered(server.stop().requests_answered);
    match received {
        Ok(signal) => println!("stopped by {signal}: {answered}"),
        Err(e) => println!("stopped ({e}): {answered}"),
    }
    ExitCode::SUCCESS
}

/// `answered 1 request`, `answered 2 requests`.
fn answered(n: u64) -> String {
    format!("answered {n} request{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_request_is_singular() {
        assert_eq!(super::answered(1), "answered 1 request");
        assert_eq!(super::answered(0), "answered 0 requests");
        assert_eq!(super::answered(2), "answered 2 requests");
    }
}
