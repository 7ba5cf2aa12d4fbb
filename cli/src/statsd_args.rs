//! The statsd flags (`--statsd`, `--statsd-host`, `--statsd-port`, `--statsd-address`,
//! `--statsd-prefix`, `--statsd-interval`) and how they turn into molotov-core's statsd
//! observer. The metrics are documented in docs/statsd.md.

use std::time::Duration;

use molotov_core::statsd::{self, Endpoint, Statsd, StatsdConfig};
use molotov_core::summary::Names;

use crate::duration::parse_duration;

fn endpoint(text: &str) -> Result<Endpoint, String> {
    Endpoint::parse(text).map_err(|e| e.to_string())
}

fn prefix(text: &str) -> Result<String, String> {
    statsd::normalize_prefix(text).map_err(|e| e.to_string())
}

fn interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(10) {
        Err("the statsd interval is at least 10ms".into())
    } else {
        Ok(d)
    }
}

/// statsd flags.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsdArgs {
    /// Send live metrics (counters, gauges, latency) to a statsd daemon over UDP
    /// (docs/statsd.md). An unreachable daemon never slows or stops the run.
    #[arg(long)]
    pub statsd: bool,

    /// statsd: the daemon's host.
    #[arg(long, value_name = "HOST", default_value = statsd::DEFAULT_HOST, requires = "statsd", conflicts_with = "statsd_address")]
    pub statsd_host: String,

    /// statsd: the daemon's UDP port.
    #[arg(long, value_name = "PORT", default_value_t = statsd::DEFAULT_PORT, allow_negative_numbers = true, value_parser = clap::value_parser!(u16).range(1..=65535), requires = "statsd", conflicts_with = "statsd_address")]
    pub statsd_port: u16,

    /// statsd: the daemon as udp://HOST:PORT (instead of --statsd-host and --statsd-port).
    #[arg(long, value_name = "udp://HOST:PORT", value_parser = endpoint, requires = "statsd")]
    pub statsd_address: Option<Endpoint>,

    /// statsd: what every metric name starts with (empty: nothing).
    #[arg(long, value_name = "PREFIX", default_value = statsd::DEFAULT_PREFIX, value_parser = prefix, requires = "statsd")]
    pub statsd_prefix: String,

    /// statsd: time between two sends (at most as often as the live view's updates).
    #[arg(long, value_name = "D", default_value = "10s", allow_hyphen_values = true, value_parser = interval, requires = "statsd")]
    pub statsd_interval: Duration,
}

impl StatsdArgs {
    /// Where to send, from `--statsd-address` or `--statsd-host`/`--statsd-port`.
    pub fn endpoint(&self) -> Endpoint {
        self.statsd_address.clone().unwrap_or_else(|| Endpoint {
            host: self.statsd_host.clone(),
            port: self.statsd_port,
        })
    }
}

/// The statsd observer asked for, or None (not asked, or the daemon's address does not
/// resolve: then a warning, and the run goes on without statsd). `warn_during_run` false
/// keeps a send failure's warning for the end (a full-screen view owns the terminal).
pub fn connect(args: &StatsdArgs, names: &Names, warn_during_run: bool) -> Option<Statsd> {
    if !args.statsd {
        return None;
    }
    let mut endpoint = args.endpoint();
    // A name that is not ASCII is looked up in its ASCII form, as a request's host is
    // (`bücher.localhost` resolved for the requests and not for statsd); an IPv6 address
    // (`udp://[::1]:8125`) is not a name.
    if !endpoint.host.contains(':') {
        match molotov_dsl::ascii_host(&endpoint.host) {
            Ok(ascii) => endpoint.host = ascii,
            Err(e) => {
                molotov_core::errln!(
                    "molotov: warning: statsd: {e}; the run goes on without statsd"
                );
                return None;
            }
        }
    }
    let config = StatsdConfig {
        endpoint,
        prefix: args.statsd_prefix.clone(),
        interval: args.statsd_interval,
        warn_during_run,
    };
    match Statsd::connect(&config, names) {
        Ok(s) => Some(s),
        Err(e) => {
            molotov_core::errln!("molotov: warning: {e}; the run goes on without statsd");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::args::Cli;
    use clap::Parser;

    #[test]
    fn flags_and_defaults() {
        let cli = Cli::try_parse_from(["molotov", "--statsd", "p.mol"]).unwrap();
        let s = &cli.run.statsd;
        assert!(s.statsd);
        assert_eq!(s.endpoint().to_string(), "localhost:8125");
        assert_eq!(s.statsd_prefix, "molotov");
        assert_eq!(s.statsd_interval, std::time::Duration::from_secs(10));
        let cli = Cli::try_parse_from([
            "molotov",
            "--statsd",
            "--statsd-host",
            "10.1.2.3",
            "--statsd-port",
            "9125",
            "--statsd-prefix",
            "load.test run",
            "--statsd-interval",
            "500ms",
            "p.mol",
        ])
        .unwrap();
        let s = &cli.run.statsd;
        assert_eq!(s.endpoint().to_string(), "10.1.2.3:9125");
        assert_eq!(s.statsd_prefix, "load.test_run");
        assert_eq!(s.statsd_interval, std::time::Duration::from_millis(500));
        let cli = Cli::try_parse_from([
            "molotov",
            "--statsd",
            "--statsd-address",
            "udp://[::1]:9",
            "p.mol",
        ])
        .unwrap();
        assert_eq!(cli.run.statsd.endpoint().to_string(), "[::1]:9");
    }

    #[test]
    fn bad_statsd_flags_name_the_flag() {
        for (args, want) in [
            (&["molotov", "--statsd-host", "h", "p.mol"][..], "--statsd"),
            (
                &[
                    "molotov",
                    "--statsd",
                    "--statsd-address",
                    "tcp://h:1",
                    "p.mol",
                ][..],
                "UDP",
            ),
            (
                &[
                    "molotov",
                    "--statsd",
                    "--statsd-address",
                    "udp://h:1",
                    "--statsd-port",
                    "2",
                    "p.mol",
                ][..],
                "cannot be used with",
            ),
            (
                &["molotov", "--statsd", "--statsd-port", "0", "p.mol"][..],
                "--statsd-port",
            ),
            (
                &["molotov", "--statsd", "--statsd-interval", "1ms", "p.mol"][..],
                "at least 10ms",
            ),
            (
                &["molotov", "--statsd", "--statsd-interval", "-5", "p.mol"][..],
                "'--statsd-interval <D>'",
            ),
            (
                &["molotov", "--statsd", "--statsd-port", "-1", "p.mol"][..],
                "'--statsd-port <PORT>'",
            ),
            (
                &["molotov", "--statsd", "--statsd-prefix", "//", "p.mol"][..],
                "--statsd-prefix",
            ),
        ] {
            let err = Cli::try_parse_from(args).unwrap_err().to_string();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
}
