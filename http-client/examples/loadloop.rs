//! Loopback load loop: one glommio executor pinned to a CPU drives C keep-alive clients,
//! each sending GETs back to back for D seconds; prints requests, req/s, the process's CPU
//! time (getrusage: user + sys, helper threads included) and requests per CPU-second.
//!
//! ```text
//! cargo run --release -p molotov-http --example loadloop -- \
//!     --url http://127.0.0.1:8081/ -c 50 -d 5 [--cpu 0] [--spin-us 0] [--probe default|always|never]
//! ```

use std::time::{Duration, Instant};

use glommio::{LocalExecutorBuilder, Placement};
use molotov_http::{
    Client, ClientConfig, ErrorKind, Method, RequestMeta, ResponseNeeds, render_request, split_url,
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
    let mut builder = LocalExecutorBuilder::new(Placement::Fixed(args.cpu)).io_memory(64 << 10);
    if args.spin_us > 0 {
        builder = builder.spin_before_park(Duration::from_micros(args.spin_us));
    }
    let cpu_before = cpu_time();
    let started = Instant::now();
    let handle = builder
        .spawn(move || async move { drive(run_args).await })
        .expect("executor starts");
    let tally = handle.join().expect("executor thread");
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu_before;
    let tally = match tally {
        Ok(tally) => tally,
        Err(e) => {
            eprintln!("loadloop: {e}");
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
    let done = (tally.ok + tally.other_status) as f64;
    println!("req/s={:.0}", done / elapsed.as_secs_f64());
    println!(
        "cpu_s={:.3} req_per_cpu_s={:.0} cpu_us_per_req={:.2}",
        cpu.as_secs_f64(),
        done / cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / done
    );
}

async fn drive(args: Args) -> Result<Tally, String> {
    let (origin, path) = split_url(&args.url).map_err(|e| e.to_string())?;
    let addrs = origin.resolve().map_err(|e| e.to_string())?;
    let mut request = Vec::new();
    let no_headers: [(&str, &[u8]); 0] = [];
    render_request(
        &mut request,
        &Method::GET,
        &origin.authority(),
        path,
        no_headers,
        b"",
    )
    .map_err(|e| e.to_string())?;
    let request = std::rc::Rc::new(request);
    let meta = RequestMeta::for_method(&Method::GET);
    let config = ClientConfig {
        probe_idle_after: args.probe,
        ..ClientConfig::default()
    };
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let mut client = Client::with_addresses(origin.clone(), addrs.clone(), config.clone());
            let request = std::rc::Rc::clone(&request);
            let timeout = args.timeout;
            glommio::spawn_local(async move {
                let mut tally = Tally::default();
                while Instant::now() < end {
                    match client
                        .send(&request, meta, &ResponseNeeds::STATUS_ONLY, timeout)
                        .await
                    {
                        Ok(response) if response.status() == 200 => tally.ok += 1,
                        Ok(_) => tally.other_status += 1,
                        Err(e) => tally.errors[e.kind().index()] += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await;
        total.ok += tally.ok;
        total.other_status += tally.other_status;
        for (sum, n) in total.errors.iter_mut().zip(tally.errors) {
            *sum += n;
        }
    }
    Ok(total)
}
