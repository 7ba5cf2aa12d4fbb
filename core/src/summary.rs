//! The merged results of a run: every slot of the shared region added up into plain numbers
//! and real `hdrhistogram::Histogram`s, with names attached. Reporters (the text report, JSON,
//! live views, statsd) read only this.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::latency;
use crate::process::{ChildExit, Usage};
use crate::shm::{Histo, Region, RequestCounter, ScenarioCounter, Site, Slot, Total};

/// Names for the ids the slots count by.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Request display names by request id.
    pub requests: Vec<String>,
    /// Where each request is written (`file:line`), by request id.
    pub request_locations: Vec<String>,
    /// Scenario names by scenario id.
    pub scenarios: Vec<String>,
    /// Checks by check id.
    pub checks: Vec<CheckName>,
    /// Transport error kind names by dense kind index.
    pub error_kinds: Vec<&'static str>,
}

/// What identifies a check in a report.
#[derive(Debug, Clone)]
pub struct CheckName {
    /// The predicate as written.
    pub text: String,
    /// `file:line`.
    pub location: String,
    /// An `assert` (ends the run when it fails) rather than a `check`.
    pub is_assert: bool,
}

/// The role of the process that runs the plan's `setup`.
pub const SETUP_ROLE: &str = "setup";
/// The role of the process that runs the plan's `teardown`.
pub const TEARDOWN_ROLE: &str = "teardown";

/// One process of the run as the master saw it.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// What it did: `worker 0`, `setup`, `teardown`.
    pub role: String,
    /// Its slot in the region.
    pub slot: usize,
    /// Its pid.
    pub pid: i32,
    /// The CPU it was pinned to.
    pub cpu: Option<usize>,
    /// How it ended (None: still running when the report was made).
    pub exit: Option<ChildExit>,
    /// CPU time and peak memory, once it ended.
    pub usage: Option<Usage>,
}

/// Counters of one request id or of the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests sent.
    pub requests: u64,
    /// Complete responses.
    pub responses: u64,
    /// Transport errors.
    pub errors: u64,
    /// Responses >= 400 on requests with no status check.
    pub failed_by_status: u64,
}

/// What the load processes alone sent and got (see [`Summary::load`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadCounts {
    /// Requests sent.
    pub requests: u64,
    /// Complete responses.
    pub responses: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Requests the load processes sent before the load started (the open model's `setup
    /// worker` blocks: logins), left out of `requests` (see [`Summary::leave_out_before_start`]).
    pub sent_before_start: u64,
}

/// What the load processes had sent and got when the load started: in the open model, the
/// requests of every worker's `setup worker` (a login), which runs before the schedule and
/// the duration start. Read by the master just before it gives the start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BeforeStart {
    /// Requests sent.
    pub requests: u64,
    /// Complete responses.
    pub responses: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Requests sent, by request id.
    pub requests_by_id: Vec<u64>,
}

impl BeforeStart {
    /// Reads the load processes' slots (`slots`) of `region`, for a plan of `requests`
    /// request ids.
    pub fn read(
        region: &Region,
        slots: impl Iterator<Item = usize>,
        requests: usize,
    ) -> BeforeStart {
        let mut b = BeforeStart {
            requests_by_id: vec![0; requests],
            ..BeforeStart::default()
        };
        for slot in slots.map(|i| region.slot(i)) {
            b.requests += slot.total(Total::Requests);
            b.responses += slot.total(Total::Responses);
            b.bytes_received += slot.total(Total::BytesReceived);
            for (id, n) in b.requests_by_id.iter_mut().enumerate() {
                *n += slot.request(id, RequestCounter::Sent);
            }
        }
        b
    }
}

/// Per request id.
#[derive(Debug, Clone)]
pub struct RequestSummary {
    /// Display name.
    pub name: String,
    /// Its counters.
    pub counts: Counts,
    /// Its requests sent by the load (not by `setup` or `teardown`): its rate's count.
    pub load_requests: u64,
    /// Bytes received for it.
    pub bytes_received: u64,
    /// Its latency.
    pub latency: Histogram<u64>,
    /// The first failure of this request (transport error or status), if any.
    pub sample: Option<(u16, String)>,
}

/// Per scenario.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSummary {
    /// Name.
    pub name: String,
    /// Runs that succeeded.
    pub successes: u64,
    /// Runs that failed.
    pub failures: u64,
    /// Runs cut short by the end of the run.
    pub stopped: u64,
}

/// Per check or assert.
#[derive(Debug, Clone)]
pub struct CheckSummary {
    /// Which.
    pub name: CheckName,
    /// Evaluations that passed.
    pub passed: u64,
    /// Evaluations that failed.
    pub failed: u64,
    /// The first failure: (status, message).
    pub sample: Option<(u16, String)>,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Wall time from the start of the load to the end of the last child.
    pub elapsed: Duration,
    /// Totals over all processes.
    pub counts: Counts,
    /// What the load sent and got, without the `setup` and `teardown` processes: what the
    /// rates count (they are over `elapsed`, the load's time, which leaves those out).
    pub load: LoadCounts,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// TCP connections opened.
    pub connects: u64,
    /// Mean connect time.
    pub mean_connect: Option<Duration>,
    /// Requests retried on a fresh connection.
    pub retries: u64,
    /// TLS handshakes completed.
    pub tls_handshakes: u64,
    /// TLS handshakes that resumed a session.
    pub tls_resumed: u64,
    /// Mean TLS handshake time.
    pub mean_tls_handshake: Option<Duration>,
    /// Latency of every response.
    pub latency: Histogram<u64>,
    /// Service time of every response (equals `latency` in the closed model).
    pub service: Histogram<u64>,
    /// Per request id, in plan order.
    pub requests: Vec<RequestSummary>,
    /// Per scenario, in plan order.
    pub scenarios: Vec<ScenarioSummary>,
    /// Per check, in plan order.
    pub checks: Vec<CheckSummary>,
    /// Responses by status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Transport errors by kind (only kinds seen).
    pub errors_by_kind: Vec<(&'static str, u64)>,
    /// Open model: starts later than scheduled, their total and worst lateness.
    pub late_starts: u64,
    /// Sum of lateness of late starts.
    pub late_total: Duration,
    /// Worst lateness.
    pub late_max: Duration,
    /// Open model: runs started before they were due (`--max-early`), and the most early.
    pub early_starts: u64,
    /// How far before its intended time the earliest start began.
    pub early_max: Duration,
    /// Open model: scheduled starts dropped.
    pub dropped_starts: u64,
    /// Open model: arrivals due before the end that were never started (no free worker).
    pub missed_starts: u64,
    /// Open model: how long arrivals were due, from the start to the deadline, the first stop
    /// request or the end of the last load process, whichever came first (without the drain
    /// of the runs still in flight). None: the whole run (`elapsed`).
    pub schedule_length: Option<Duration>,
    /// Scenario runs started (also those whose process was killed before they ended, which
    /// have no scenario outcome).
    pub runs_started: u64,
    /// Workers that started (after their ramp-up wait), and those of them whose `setup
    /// worker` failed (they ran no scenario).
    pub workers_started: u64,
    pub worker_setups_failed: u64,
    /// Workers whose `teardown worker` failed (it runs only after a `setup worker` that
    /// completed).
    pub worker_teardowns_failed: u64,
    /// The processes.
    pub processes: Vec<ProcessInfo>,
    /// Per process (same order as `processes`): requests sent.
    pub requests_per_process: Vec<u64>,
    /// The master's own CPU time and peak memory.
    pub master_usage: Usage,
    /// io_uring rings built with `COOP_TASKRUN`, and those whose flag the kernel refused.
    pub rings_coop: (u64, u64),
}

/// How many latencies `slot` recorded in histogram `which`: one per response, and one per
/// request whose deadline passed (at its timeout).
pub fn latencies_recorded(slot: &Slot<'_>, which: Histo) -> u64 {
    match which {
        Histo::Request(id) => {
            slot.request(id as usize, RequestCounter::Responses)
                + slot.request(id as usize, RequestCounter::DeadlinesPassed)
        }
        Histo::Overall | Histo::Service => {
            slot.total(Total::Responses) + slot.total(Total::DeadlinesPassed)
        }
    }
}

impl ProcessInfo {
    /// Whether it ran the plan's `setup` or `teardown`, before or after the load.
    pub fn outside_load(&self) -> bool {
        self.role == SETUP_ROLE || self.role == TEARDOWN_ROLE
    }
}

impl Summary {
    /// Adds up every slot of `region`.
    pub fn merge(
        region: &Region,
        names: &Names,
        processes: Vec<ProcessInfo>,
        elapsed: Duration,
    ) -> Summary {
        let slots: Vec<Slot<'_>> = (0..region.slots()).map(|i| region.slot(i)).collect();
        let sum = |f: &dyn Fn(&Slot<'_>) -> u64| slots.iter().map(f).sum::<u64>();
        // The slots of `setup` and `teardown`: their requests are counted, but not in the
        // rates, which are over the load's time.
        let outside: Vec<&Slot<'_>> = processes
            .iter()
            .filter(|p| p.outside_load())
            .filter_map(|p| slots.get(p.slot))
            .collect();
        let outside_sum = |f: &dyn Fn(&Slot<'_>) -> u64| outside.iter().map(|s| f(s)).sum::<u64>();
        let most = |counter: Total| slots.iter().map(|s| s.total(counter)).max().unwrap_or(0);
        let hist = |which: Histo| {
            let mut h = latency::new_histogram();
            for s in &slots {
                // Each histogram holds one latency per response and per request whose
                // deadline passed: one without any is skipped unread, and of the others only
                // the pages some process wrote are read (`histogram_counts`: reading a page
                // of the shared region that no process wrote would allocate it).
                let latencies = latencies_recorded(s, which);
                if latencies == 0 {
                    continue;
                }
                let counts: Vec<(usize, u64)> =
                    s.histogram_counts(which).filter(|&(_, c)| c > 0).collect();
                if counts.iter().map(|&(_, c)| c).sum::<u64>() == latencies {
                    latency::add_counts(&mut h, counts);
                } else {
                    // A page the kernel swapped out reads as unwritten: read them all.
                    latency::add_counts(&mut h, s.histogram_counts_all(which));
                }
            }
            h
        };
        let counts = Counts {
            requests: sum(&|s| s.total(Total::Requests)),
            responses: sum(&|s| s.total(Total::Responses)),
            errors: sum(&|s| s.total(Total::Errors)),
            failed_by_status: sum(&|s| s.total(Total::FailedByStatus)),
        };
        let connects = sum(&|s| s.total(Total::Connects));
        let connect_micros = sum(&|s| s.total(Total::ConnectMicros));
        let first_sample = |site: Site| slots.iter().find_map(|s| s.sample(site));
        let requests = names
            .requests
            .iter()
            .enumerate()
            .map(|(id, name)| {
                let c = |k: RequestCounter| sum(&|s| s.request(id, k));
                let responses = c(RequestCounter::Responses);
                let errors = c(RequestCounter::Errors);
                let sent = c(RequestCounter::Sent);
                RequestSummary {
                    name: name.clone(),
                    load_requests: sent
                        .saturating_sub(outside_sum(&|s| s.request(id, RequestCounter::Sent))),
                    counts: Counts {
                        requests: sent,
                        responses,
                        errors,
                        failed_by_status: c(RequestCounter::FailedByStatus),
                    },
                    bytes_received: c(RequestCounter::BytesReceived),
                    latency: hist(Histo::Request(id as u32)),
                    sample: first_sample(Site::Request(id as u32)),
                }
            })
            .collect();
        let scenarios = names
            .scenarios
            .iter()
            .enumerate()
            .map(|(id, name)| ScenarioSummary {
                name: name.clone(),
                successes: sum(&|s| s.scenario(id, ScenarioCounter::Successes)),
                failures: sum(&|s| s.scenario(id, ScenarioCounter::Failures)),
                stopped: sum(&|s| s.scenario(id, ScenarioCounter::Stopped)),
            })
            .collect();
        let checks = names
            .checks
            .iter()
            .enumerate()
            .map(|(id, name)| CheckSummary {
                name: name.clone(),
                passed: sum(&|s| s.check(id).0),
                failed: sum(&|s| s.check(id).1),
                sample: first_sample(Site::Check(id as u32)),
            })
            .collect();
        let mut status_codes = BTreeMap::new();
        for code in 0..crate::shm::STATUS_WORDS {
            let n = sum(&|s| s.status_count(code));
            if n > 0 {
                status_codes.insert(code as u16, n);
            }
        }
        let errors_by_kind = names
            .error_kinds
            .iter()
            .enumerate()
            .filter_map(|(i, &name)| {
                let n = sum(&|s| s.error_kind_count(i));
                (n > 0).then_some((name, n))
            })
            .collect();
        let tls_handshakes = sum(&|s| s.total(Total::TlsHandshakes));
        let requests_per_process = processes
            .iter()
            .map(|p| slots[p.slot].total(Total::Requests))
            .collect();
        let bytes_received = sum(&|s| s.total(Total::BytesReceived));
        let load = LoadCounts {
            requests: counts
                .requests
                .saturating_sub(outside_sum(&|s| s.total(Total::Requests))),
            responses: counts
                .responses
                .saturating_sub(outside_sum(&|s| s.total(Total::Responses))),
            bytes_received: bytes_received
                .saturating_sub(outside_sum(&|s| s.total(Total::BytesReceived))),
            sent_before_start: 0,
        };
        Summary {
            elapsed,
            counts,
            load,
            bytes_sent: sum(&|s| s.total(Total::BytesSent)),
            bytes_received,
            connects,
            mean_connect: (connects > 0).then(|| Duration::from_micros(connect_micros / connects)),
            retries: sum(&|s| s.total(Total::Retries)),
            tls_handshakes,
            tls_resumed: sum(&|s| s.total(Total::TlsResumed)),
            mean_tls_handshake: (tls_handshakes > 0).then(|| {
                Duration::from_micros(sum(&|s| s.total(Total::TlsHandshakeMicros)) / tls_handshakes)
            }),
            latency: hist(Histo::Overall),
            service: hist(Histo::Service),
            requests,
            scenarios,
            checks,
            status_codes,
            errors_by_kind,
            late_starts: sum(&|s| s.total(Total::LateStarts)),
            late_total: {
                let micros: u128 = slots
                    .iter()
                    .map(|s| s.total_wide(Total::LateMicros, Total::LateMicrosHigh))
                    .sum();
                // At most 2^64 × processes µs: whole seconds fit in a u64.
                Duration::new(
                    (micros / 1_000_000) as u64,
                    (micros % 1_000_000) as u32 * 1000,
                )
            },
            late_max: Duration::from_micros(most(Total::MaxLateMicros)),
            early_starts: sum(&|s| s.total(Total::EarlyStarts)),
            early_max: Duration::from_micros(most(Total::MaxEarlyMicros)),
            dropped_starts: sum(&|s| s.total(Total::DroppedStarts)),
            // Counted by the master once the load is over (`run::missed_starts`).
            missed_starts: 0,
            schedule_length: None,
            runs_started: sum(&|s| s.meta(crate::shm::Meta::RunsStarted)),
            workers_started: sum(&|s| s.meta(crate::shm::Meta::WorkersStarted)),
            worker_setups_failed: sum(&|s| s.meta(crate::shm::Meta::WorkerSetupsFailed)),
            worker_teardowns_failed: sum(&|s| s.meta(crate::shm::Meta::WorkerTeardownsFailed)),
            processes,
            requests_per_process,
            master_usage: crate::process::self_usage(),
            rings_coop: (
                sum(&|s| s.meta(crate::shm::Meta::RingsCoop)),
                sum(&|s| s.meta(crate::shm::Meta::RingsCoopRefused)),
            ),
        }
    }

    /// Leaves what the load processes sent `before` the load started out of the load's
    /// counts (the rates' counts, over `elapsed`, which starts after it): they stay in every
    /// other count, latency and per-request row.
    pub fn leave_out_before_start(&mut self, before: &BeforeStart) {
        self.load.requests = self.load.requests.saturating_sub(before.requests);
        self.load.responses = self.load.responses.saturating_sub(before.responses);
        self.load.bytes_received = self
            .load
            .bytes_received
            .saturating_sub(before.bytes_received);
        self.load.sent_before_start = before.requests;
        for (r, n) in self.requests.iter_mut().zip(&before.requests_by_id) {
            r.load_requests = r.load_requests.saturating_sub(*n);
        }
    }

    /// Scenario runs that succeeded, over all scenarios.
    pub fn successes(&self) -> u64 {
        self.scenarios.iter().map(|s| s.successes).sum()
    }

    /// The mean lateness of the late starts (None without any). Divided in 128 bits: the
    /// count may pass 2^32 in a long overloaded run.
    pub fn late_mean(&self) -> Option<Duration> {
        (self.late_starts > 0).then(|| {
            let nanos = self.late_total.as_nanos() / u128::from(self.late_starts);
            Duration::new(
                (nanos / 1_000_000_000) as u64,
                (nanos % 1_000_000_000) as u32,
            )
        })
    }

    /// Scenario runs that failed, over all scenarios.
    pub fn failures(&self) -> u64 {
        self.scenarios.iter().map(|s| s.failures).sum()
    }

    /// Check and assert evaluations that passed, over all checks.
    pub fn checks_passed(&self) -> u64 {
        self.checks.iter().map(|c| c.passed).sum()
    }

    /// Check and assert evaluations that failed, over all checks.
    pub fn checks_failed(&self) -> u64 {
        self.checks.iter().map(|c| c.failed).sum()
    }

    /// The load's requests per second over the elapsed time (0 when no time passed); those
    /// of `setup` and `teardown`, sent outside that time, are not in it.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.load.requests as f64 / secs
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::{Histo, Layout, Region, RequestCounter, Shape};

    /// A region for `requests` request lines and `slots` processes.
    fn region(requests: usize, slots: usize) -> Region {
        Region::new(Layout::new(Shape {
            requests,
            scenarios: 0,
            checks: 0,
            slots,
        }))
        .unwrap()
    }

    /// The lateness of late starts adds up in 128 bits and its mean divides in 128 bits: the
    /// 64-bit sum wrapped within hours of an overloaded open model, and the text report
    /// divided by the count `as u32` (wrong past 2^32 late starts, a panic at 2^32).
    #[test]
    fn the_mean_lateness_survives_sums_and_counts_past_64_and_32_bits() {
        let region = region(0, 2);
        for i in 0..2 {
            let slot = region.slot(i);
            slot.add(Total::LateStarts, 1 << 32);
            // 2^64 - 1 µs, then 2^32 more: a carry into the high word.
            slot.add_wide(Total::LateMicros, Total::LateMicrosHigh, u64::MAX);
            slot.add_wide(Total::LateMicros, Total::LateMicrosHigh, (1 << 32) + 1);
            assert_eq!(
                slot.total_wide(Total::LateMicros, Total::LateMicrosHigh),
                (1u128 << 64) + (1 << 32)
            );
        }
        let names = Names {
            requests: vec![],
            request_locations: vec![],
            scenarios: vec![],
            checks: vec![],
            error_kinds: vec![],
        };
        let s = Summary::merge(&region, &names, vec![], Duration::from_secs(1));
        assert_eq!(s.late_starts, 1 << 33);
        // (2^65 + 2^33) µs over 2^33 starts: 2^32 + 1 µs each.
        assert_eq!(s.late_mean(), Some(Duration::from_micros((1 << 32) + 1)));
        let text = crate::report::render(&s);
        assert!(
            text.contains("late starts: 8,589,934,592 (mean 4294.97s late"),
            "{text}"
        );
    }

    /// One of a thing is said in the singular: `1 connection`, not `1 connections`.
    #[test]
    fn counts_of_one_are_singular_in_the_text_report() {
        let text_of = |n: u64| {
            let region = region(1, 1);
            let slot = region.slot(0);
            for total in [
                Total::Requests,
                Total::Responses,
                Total::Errors,
                Total::Connects,
                Total::TlsHandshakes,
            ] {
                slot.add(total, n);
            }
            let s = Summary::merge(&region, &names(1), vec![], Duration::from_secs(1));
            crate::report::render(&s)
        };
        let one = text_of(1);
        for said in [
            "1 response, 1 error, 0 failed by status",
            "; 1 connection",
            "TLS: 1 handshake (",
        ] {
            assert!(one.contains(said), "{said:?} in\n{one}");
        }
        let two = text_of(2);
        for said in [
            "2 responses, 2 errors, 0 failed by status",
            "; 2 connections",
            "TLS: 2 handshakes (",
        ] {
            assert!(two.contains(said), "{said:?} in\n{two}");
        }
    }

    fn process(role: &str, slot: usize) -> ProcessInfo {
        ProcessInfo {
            role: role.into(),
            slot,
            pid: 0,
            cpu: None,
            exit: None,
            usage: None,
        }
    }

    /// How the merge combines the processes' slots: the connect and TLS handshake means are
    /// the µs sums over the counts, the earliest start is the largest of the processes'
    /// (not their sum), the first failure shown is the first process's, and the load's
    /// responses and bytes received leave out those of `setup` and `teardown`.
    #[test]
    fn the_merge_takes_means_maxima_first_failures_and_load_counts_as_documented() {
        let region = region(1, 3);
        let processes = vec![
            process("worker 0", 0),
            process("worker 1", 1),
            process(SETUP_ROLE, 2),
        ];
        for (i, (connects, micros, early)) in
            [(3, 900, 19_000), (1, 100, 18_000)].into_iter().enumerate()
        {
            let slot = region.slot(i);
            slot.add(Total::Requests, 10);
            slot.add(Total::Responses, 9);
            slot.add(Total::BytesReceived, 90);
            slot.add(Total::Connects, connects);
            slot.add(Total::ConnectMicros, micros);
            slot.raise(Total::MaxEarlyMicros, early);
        }
        region.slot(0).add(Total::TlsHandshakes, 2);
        region.slot(0).add(Total::TlsHandshakeMicros, 3_000);
        region
            .slot(0)
            .offer_sample(Site::Request(0), 503, "first process");
        region
            .slot(1)
            .offer_sample(Site::Request(0), 404, "second process");
        let setup = region.slot(2);
        setup.add(Total::Requests, 500);
        setup.add(Total::Responses, 500);
        setup.add(Total::BytesReceived, 5_000);
        let s = Summary::merge(&region, &names(1), processes, Duration::from_secs(1));
        assert_eq!(s.connects, 4);
        assert_eq!(s.mean_connect, Some(Duration::from_micros(250)));
        assert_eq!(s.mean_tls_handshake, Some(Duration::from_micros(1_500)));
        assert_eq!(s.early_max, Duration::from_micros(19_000));
        assert_eq!(
            s.requests[0].sample,
            Some((503, "first process".to_owned()))
        );
        assert_eq!(s.counts.responses, 518);
        assert_eq!(s.bytes_received, 5_180);
        assert_eq!(s.load.requests, 20);
        assert_eq!(s.load.responses, 18);
        assert_eq!(s.load.bytes_received, 180);
    }

    fn names(requests: usize) -> Names {
        Names {
            requests: (0..requests).map(|i| format!("r{i}")).collect(),
            request_locations: (0..requests).map(|i| format!("t.mol:{i}")).collect(),
            scenarios: vec![],
            checks: vec![],
            error_kinds: vec![],
        }
    }

    /// Latencies past a minute keep their values (the histograms' top was 60 s: a request of
    /// 65 s read 60.03 s, and `threshold max < 61s` passed), and those that reach the new top
    /// (24 h) are said to be larger.
    #[test]
    fn latencies_past_a_minute_are_kept_and_those_past_a_day_are_said() {
        let region = region(1, 1);
        let slot = region.slot(0);
        let latencies = [65_000_000, 3_600_000_000, 90_000_000_000u64];
        for us in latencies {
            slot.add(Total::Responses, 1);
            slot.add_request(0, RequestCounter::Responses, 1);
            for which in [Histo::Overall, Histo::Service, Histo::Request(0)] {
                slot.record(which, us);
            }
        }
        let s = Summary::merge(&region, &names(1), vec![], Duration::from_secs(1));
        let near = |got: u64, want: u64| got.abs_diff(want) <= want / 1000;
        assert!(near(s.latency.min(), 65_000_000), "{}", s.latency.min());
        assert!(near(s.latency.value_at_quantile(0.5), 3_600_000_000));
        // Past 24 h: counted at the top, in a bucket of its own.
        assert!(s.requests[0].latency.max() > 86_400_000_000);
        assert!(near(
            s.requests[0].latency.max(),
            crate::latency::CLAMPED_US
        ));
        assert_eq!(crate::latency::at_top(&s.latency), 1);
        let text = crate::report::render(&s);
        assert!(
            text.contains("note: 1 latency reached 24 h, the top of the histograms"),
            "{text}"
        );
    }

    /// The master reads only the histogram pages that the load processes wrote: reading all
    /// of them (224 KiB per request line and process) allocated them, 808 MiB of master for
    /// 3,000 request lines at `-p 1`.
    #[test]
    fn merging_reads_only_the_histogram_pages_that_were_written() {
        let requests = 200;
        let region = region(requests, 2);
        for s in 0..2 {
            let slot = region.slot(s);
            for id in 0..requests as u32 {
                slot.add(Total::Responses, 1);
                slot.add_request(id, RequestCounter::Responses, 1);
                for which in [Histo::Overall, Histo::Service, Histo::Request(id)] {
                    slot.record(which, 150 + u64::from(id));
                }
            }
        }
        let before = region.pages_in_memory();
        let s = Summary::merge(&region, &names(requests), vec![], Duration::from_secs(1));
        assert_eq!(s.latency.len(), 400);
        assert_eq!(s.requests[199].latency.len(), 2);
        assert_eq!(s.requests[199].latency.min(), 349);
        // It reads the failure samples' length words (64 words per request line and
        // process: 26 pages per process here), not the 56 pages of each histogram.
        let after = region.pages_in_memory();
        assert!(
            after - before <= 2 * 26,
            "the merge brought {} pages in",
            after - before
        );
        // The whole region is far larger than what was written.
        assert!(
            before * 10 < region.layout().region_bytes() / 4096,
            "{before}"
        );
    }
}
