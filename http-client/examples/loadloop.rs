//! Loopback load loop: one molotov-runtime executor pinned to a CPU drives C keep-alive clients,
//! each sending GETs back to back for D seconds; prints requests, req/s, the process's CPU
//! time (getrusage: user + sys, helper threads included) and requests per CPU-second.
//! With an `https` URL it also prints what TLS negotiated and the handshakes (full and
//! resumed) with their mean time; `--close` sends `Connection: close` so that every request
//! makes a new connection (a handshake rate), and `--no-resume` turns TLS session
//! resumption off (every handshake full, as wrk does).
//!
//! ```text
//! cargo run --release -p molotov-http --example loadloop -- \
//!     --url http://127.0.0.1:8081/ -c 50 -d 5 [--cpu 0] [--spin-us 0] [--probe default|always|never]
//!     [--insecure] [--cacert FILE] [--tls-min 1.2|1.3] [--close] [--no-resume]
//! ```

use std::time::{Duration, Instant};

use molotov_http::{
    Client, ClientConfig, ErrorKind, Method, RequestMeta, ResponseNeeds, TlsConnector, TlsInfo,
    TlsOptions, render_request, split_url,
};

#[derive(Debug, Clone)]
struct Args {
    url: String,
    connections: usize,
    seconds: f64,
    cpu: usize,
    spin_us: u64,
    probe: Option<Duration>,
    timeout: Duration,
    tls: TlsOptions,
    close: bool,
    no_resume: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: "http://127.0.0.1:8081/".to_owned(),
        connections: 50,
        seconds: 5.0,
        cpu: 0,
        spin_us: 0,
        probe: ClientConfig::default().probe_idle_after,
        timeout: Duration::from_secs(10),
        tls: TlsOptions::default(),
        close: false,
        no_resume: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "-c" | "--connections" => {
                args.connections = value()?.parse().map_err(|e| format!("{e}"))?
            }
            "-d" | "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--cpu" => args.cpu = value()?.parse().map_err(|e| format!("{e}"))?,
            "--spin-us" => args.spin_us = value()?.parse().map_err(|e| format!("{e}"))?,
            "--timeout-ms" => {
                args.timeout = Duration::from_millis(value()?.parse().map_err(|e| format!("{e}"))?)
            }
            "--probe" => {
                args.probe = match value()?.as_str() {
                    "default" => ClientConfig::default().probe_idle_after,
                    "always" => Some(Duration::ZERO),
                    "never" => None,
                    other => return Err(format!("--probe {other}: use default, always or never")),
                }
            }
            "--insecure" => args.tls.insecure = true,
            "--cacert" => args.tls.ca_file = Some(value()?.into()),
            "--tls-min" => args.tls.min_version = value()?.parse().map_err(|e| format!("{e}"))?,
            "--close" => args.close = true,
            "--no-resume" => args.no_resume = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// User + system CPU time of the whole process.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    ok: u64,
    other_status: u64,
    errors: [u64; ErrorKind::COUNT],
    tls_handshakes: u64,
    tls_resumed: u64,
    tls_handshake_time: Duration,
    connects: u64,
}

/// What the run measured, and what the first TLS connection negotiated.
#[derive(Debug, Default)]
struct Outcome {
    tally: Tally,
    tls: Option<TlsInfo>,
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("loadloop: {e}");
            std::process::exit(2);
        }
    };
    let run_args = args.clone();
    let mut executor = molotov_runtime::Executor::new().pin_to_cpu(args.cpu);
    if args.spin_us > 0 {
        executor = executor.spin_before_park(Duration::from_micros(args.spin_us));
    }
    let cpu_before = cpu_time();
    let started = Instant::now();
    let handle = std::thread::spawn(move || executor.run(drive(run_args)));
    let tally = handle.join().expect("executor thread");
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu_before;
    let Outcome { tally, tls } = match tally {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            eprintln!("loadloop: {e}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("loadloop: the executor failed: {e}");
            std::process::exit(1);
        }
    };
    let errors: u64 = tally.errors.iter().sum();
    println!(
        "connections={} seconds={:.2} spin_us={} probe_idle_after={:?}",
        args.connections,
        elapsed.as_secs_f64(),
        args.spin_us,
        args.probe
    );
    println!(
        "requests={} ok={} other_status={} errors={}",
        tally.ok + tally.other_status + errors,
        tally.ok,
        tally.other_status,
        errors
    );
    for kind in ErrorKind::ALL {
        if tally.errors[kind.index()] > 0 {
            println!("  {kind}: {}", tally.errors[kind.index()]);
        }
    }
    println!("connects={}", tally.connects);
    if tally.tls_handshakes > 0 {
        let negotiated = tls
            .map(|info| {
                let alpn = info.alpn.as_deref().map(String::from_utf8_lossy);
                format!(
                    "{} {} alpn={} ",
                    info.version,
                    info.cipher_suite,
                    alpn.unwrap_or_default()
                )
            })
            .unwrap_or_default();
        println!(
            "tls: {negotiated}handshakes={} resumed={} mean_handshake_us={:.0}",
            tally.tls_handshakes,
            tally.tls_resumed,
            tally.tls_handshake_time.as_secs_f64() * 1e6 / tally.tls_handshakes as f64
        );
    }
    let done = (tally.ok + tally.other_status) as f64;
    println!("req/s={:.0}", done / elapsed.as_secs_f64());
    println!(
        "cpu_s={:.3} req_per_cpu_s={:.0} cpu_us_per_req={:.2}",
        cpu.as_secs_f64(),
        done / cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / done
    );
}

async fn drive(args: Args) -> Result<Outcome, String> {
    let (origin, path) = split_url(&args.url).map_err(|e| e.to_string())?;
    let addrs = origin.resolve().map_err(|e| e.to_string())?;
    let mut request = Vec::new();
    let close: &[(&str, &[u8])] = if args.close {
        &[("Connection", b"close")]
    } else {
        &[]
    };
    render_request(
        &mut request,
        &Method::GET,
        &origin.authority(),
        path,
        close.iter().copied(),
        b"",
    )
    .map_err(|e| e.to_string())?;
    let request = std::rc::Rc::new(request);
    let meta = RequestMeta::for_method(&Method::GET);
    let config = ClientConfig {
        probe_idle_after: args.probe,
        tls: args.tls.clone(),
        ..ClientConfig::default()
    };
    // One connector for every client: one session cache, as in molotov's processes.
    let mut connector = TlsConnector::new(&args.tls).map_err(|e| e.to_string())?;
    if args.no_resume {
        let mut rustls_config = (**connector.rustls_config()).clone();
        rustls_config.resumption = rustls::client::Resumption::disabled();
        connector = TlsConnector::from_rustls(std::sync::Arc::new(rustls_config));
    }
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let mut client = Client::with_addresses(origin.clone(), addrs.clone(), config.clone())
                .with_tls(connector.clone());
            let request = std::rc::Rc::clone(&request);
            let timeout = args.timeout;
            molotov_runtime::spawn_local(async move {
                let mut tally = Tally::default();
                while Instant::now() < end {
                    match client
                        .send(&request, meta, &ResponseNeeds::STATUS_ONLY, timeout)
                        .await
                    {
                        Ok(response) => {
                            if let Some(t) = response.timings().tls_handshake {
                                tally.tls_handshake_time += t;
                            }
                            if response.status() == 200 {
                                tally.ok += 1;
                            } else {
                                tally.other_status += 1;
                            }
                        }
                        Err(e) => tally.errors[e.kind().index()] += 1,
                    }
                }
                let counters = client.counters();
                tally.tls_handshakes = counters.tls_handshakes;
                tally.tls_resumed = counters.tls_resumed;
                tally.connects = counters.connects;
                (tally, client.tls_info())
            })
        })
        .collect();
    let mut total = Outcome::default();
    for worker in workers {
        let (tally, tls) = worker.await;
        let sum = &mut total.tally;
        sum.ok += tally.ok;
        sum.other_status += tally.other_status;
        sum.tls_handshakes += tally.tls_handshakes;
        sum.tls_resumed += tally.tls_resumed;
        sum.tls_handshake_time += tally.tls_handshake_time;
        sum.connects += tally.connects;
        for (sum, n) in sum.errors.iter_mut().zip(tally.errors) {
            *sum += n;
        }
        total.tls = total.tls.or(tls);
    }
    Ok(total)
}
