//! The full-screen live view (ratatui), used when stdout is a terminal and none of `-c`, `-q`,
//! `-v` is given: requests per second and latency over time, latency percentiles now and
//! overall, per-request and per-scenario tables, status codes, errors by kind, failures,
//! workers and processes alive, and a progress bar.
//!
//! It is an [`Observer`] of the master's loop: the screen comes up when the load starts (so
//! Ctrl-C still interrupts a slow `setup` the usual way), is redrawn on every tick, and is
//! torn down when the view is dropped, before the final report is printed. Keys are read from
//! the descriptor the master polls; `q` and Ctrl-C (a key in raw mode) are turned back into the
//! SIGINT the terminal would have sent, so they stop the run exactly like Ctrl-C in a plain
//! terminal: gracefully the first time, at once the second.
//!
//! For the tests only: `MOLOTOV_TEST_VIEW_PANIC=N` makes the view panic at its N-th tick, to
//! show that a panic in the master restores the terminal.

mod draw;
mod state;
mod terminal;

use std::collections::HashSet;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use molotov_core::live::Sample;
use molotov_core::run::Observer;
use molotov_core::shm::{Region, Site, SlotState};
use molotov_core::summary::{Names, ProcessInfo, Summary};
use nix::sys::signal::Signal;

use crate::console::{Console, Stream, describe_failure};
pub use draw::draw;
pub use state::{LiveState, RunShape};
use terminal::{Key, Screen};

/// How often the tables (a full merge of the region) are refreshed.
const TABLE_REFRESH: Duration = Duration::from_secs(1);
/// How often the master calls the view (redraws).
pub const TICK: Duration = Duration::from_millis(250);

/// The full-screen view.
pub struct Tui {
    names: Names,
    state: LiveState,
    screen: Option<Screen>,
    /// Used when the terminal could not be set up.
    fallback: Option<Console>,
    processes: Vec<ProcessInfo>,
    ended: HashSet<usize>,
    seen: HashSet<Site>,
    last_tables: Option<Instant>,
    /// Stop keys typed beyond the one already turned into SIGINT.
    queued_stops: u32,
    ticks: u64,
    panic_at_tick: Option<u64>,
    /// What the load processes wrote to stderr while the screen was up, printed to stderr
    /// when it closes (at most [`HELD_LINES`], then a count).
    held_output: Vec<String>,
    dropped_output: u64,
}

/// Lines of the load processes' stderr kept for after the screen closes.
const HELD_LINES: usize = 10_000;

impl Tui {
    /// A view for a run shaped like `shape`; the screen comes up at [`Observer::started`].
    pub fn new(names: Names, shape: RunShape) -> Tui {
        Tui {
            names,
            state: LiveState::new(shape),
            screen: None,
            fallback: None,
            processes: Vec::new(),
            ended: HashSet::new(),
            seen: HashSet::new(),
            last_tables: None,
            queued_stops: 0,
            ticks: 0,
            panic_at_tick: std::env::var("MOLOTOV_TEST_VIEW_PANIC")
                .ok()
                .and_then(|n| n.parse().ok()),
            held_output: Vec::new(),
            dropped_output: 0,
        }
    }

    fn redraw(&mut self) {
        if let Some(screen) = &mut self.screen {
            let state = &self.state;
            if screen.draw(|frame| draw(frame, state)).is_err() {
                // The terminal went away: stop drawing, keep counting.
                self.screen = None;
            }
        }
    }

    fn collect_failures(&mut self, region: &Region) {
        let sites: Vec<Site> = (0..self.names.checks.len() as u32)
            .map(Site::Check)
            .chain((0..self.names.requests.len() as u32).map(Site::Request))
            .filter(|s| !self.seen.contains(s))
            .collect();
        for site in sites {
            if let Some((status, message)) =
                (0..region.slots()).find_map(|i| region.slot(i).sample(site))
            {
                self.seen.insert(site);
                self.state
                    .on_failure(describe_failure(&self.names, site, status, &message));
            } else if let Site::Check(id) = site
                && (0..region.slots()).any(|i| region.slot(i).check(id as usize).1 > 0)
            {
                // A failed `check` keeps no sample of its response: its plan line says enough.
                self.seen.insert(site);
                self.state
                    .on_failure(describe_failure(&self.names, site, 0, "failed"));
            }
        }
    }

    /// Gives the terminal back and prints what the load processes wrote meanwhile.
    fn close_screen(&mut self) {
        self.screen = None;
        for line in self.held_output.drain(..) {
            molotov_core::errln!("{line}");
        }
        if self.dropped_output > 0 {
            molotov_core::errln!(
                "molotov: {} more lines of the load processes' stderr were not kept",
                self.dropped_output
            );
            self.dropped_output = 0;
        }
    }

    fn raise_stop() {
        // SIGINT is blocked in the master and read from its signalfd: raising it makes the
        // master's loop handle the key exactly like a Ctrl-C from a cooked terminal.
        let _ = nix::sys::signal::raise(Signal::SIGINT);
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        // A run that ended without `finished` (an error): still restore the terminal first and
        // print what the load processes wrote.
        self.close_screen();
    }
}

impl Observer for Tui {
    fn started(&mut self, processes: &[ProcessInfo]) {
        self.processes = processes.to_vec();
        match Screen::enter() {
            Ok(screen) => self.screen = Some(screen),
            Err(e) => {
                molotov_core::errln!(
                    "molotov: cannot use the full-screen view ({e}); using the console"
                );
                self.fallback = Some(Console::new(
                    true,
                    None,
                    Stream::Stdout,
                    self.state
                        .shape
                        .schedule
                        .clone()
                        .map(|s| (s, self.state.shape.duration)),
                ));
            }
        }
        self.redraw();
    }

    fn load_started(&mut self, _start: Instant, region: &Region) {
        // The per-request rates are the change between two merges: the first one counts
        // from what `setup` (and the open model's `setup worker`) had sent by now.
        if self.fallback.is_none() {
            let summary =
                Summary::merge(region, &self.names, self.processes.clone(), Duration::ZERO);
            self.state.on_summary(&summary, Duration::ZERO);
        }
    }

    fn tick(&mut self, sample: &Sample, region: &Region) {
        if let Some(console) = &mut self.fallback {
            console.tick(sample, region);
            return;
        }
        self.ticks += 1;
        if self.panic_at_tick.is_some_and(|n| self.ticks >= n) {
            panic!("MOLOTOV_TEST_VIEW_PANIC: a panic in the live view, on purpose");
        }
        self.state.on_sample(sample);
        self.state.stopped_at = region.stopped_after_start();
        self.collect_failures(region);
        if self
            .last_tables
            .is_none_or(|t| t.elapsed() >= TABLE_REFRESH)
        {
            let summary =
                Summary::merge(region, &self.names, self.processes.clone(), sample.elapsed);
            self.state.on_summary(&summary, sample.elapsed);
            self.last_tables = Some(Instant::now());
        }
        self.state.processes_alive = self
            .processes
            .iter()
            .filter(|p| {
                !self.ended.contains(&p.slot) && region.slot(p.slot).state() != SlotState::Finished
            })
            .count();
        self.redraw();
    }

    fn finished(&mut self, sample: &Sample, region: &Region) {
        // The load is over: show the last numbers, then give the terminal back before the
        // plan's teardown runs (Ctrl-C must reach the master as a signal again).
        self.tick(sample, region);
        self.close_screen();
    }

    fn child_ended(&mut self, p: &ProcessInfo) {
        self.ended.insert(p.slot);
        // A dying process may have written to the terminal: repaint everything.
        if let Some(screen) = &mut self.screen {
            screen.clear();
        }
        if let Some(exit) = p.exit {
            self.state.notices.push(format!(
                "process {} (pid {}) {exit}; the run goes on without it",
                p.role, p.pid
            ));
        }
        self.redraw();
    }

    fn interrupted(&mut self, count: u32) {
        self.state.stops = count;
        self.state.notices.push(if count == 1 {
            "stopping: in-flight requests finish; press q or Ctrl-C again to stop now".into()
        } else {
            "stopping now".into()
        });
        if self.queued_stops > 0 {
            self.queued_stops -= 1;
            Self::raise_stop();
        }
        self.redraw();
    }

    fn input(&self) -> Option<BorrowedFd<'_>> {
        self.screen.as_ref().and_then(|s| s.input())
    }

    fn shows_child_output(&self) -> bool {
        true
    }

    fn child_output(&mut self, line: &str) {
        if self.screen.is_none() {
            crate::live_output::line(crate::console::Stream::Stderr, line);
            return;
        }
        self.state.on_child_output(line);
        if self.held_output.len() < HELD_LINES {
            self.held_output.push(line.to_string());
        } else {
            self.dropped_output += 1;
        }
    }

    fn on_input(&mut self) -> bool {
        let Some(screen) = &mut self.screen else {
            return false;
        };
        let stops = screen
            .read_keys()
            .into_iter()
            .filter(|k| *k == Key::Stop)
            .count() as u32;
        if stops > 0 {
            // Signals do not queue: raise one now, the next when the master has seen it.
            Self::raise_stop();
            self.queued_stops += stops - 1;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use molotov_core::latency;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn sample(elapsed_ms: u64, requests: u64, interval_requests: u64, latencies: &[u64]) -> Sample {
        let mut h = latency::new_histogram();
        for &l in latencies {
            h.record(l).unwrap();
        }
        Sample {
            elapsed: Duration::from_millis(elapsed_ms),
            interval: Duration::from_millis(250),
            requests,
            errors: 1,
            failed_by_status: 2,
            successes: requests / 2,
            failures: 3,
            interval_requests,
            interval_errors: 0,
            interval_failures: 0,
            totals: Default::default(),
            delta: Default::default(),
            interval_latency: h,
            workers_alive: 20,
            in_flight: 7,
        }
    }

    fn fed_state() -> LiveState {
        let mut s = LiveState::new(RunShape {
            plan: "shop.mol".into(),
            processes: 2,
            workers: 10,
            duration: Some(Duration::from_secs(30)),
            total_runs: None,
            schedule: None,
        });
        let mut requests = 0;
        for i in 1..=20u64 {
            requests += 250;
            s.on_sample(&sample(
                i * 250,
                requests,
                250,
                &[1_000 * i, 2_000 * i, 50_000],
            ));
        }
        s.on_failure("FAILED check status == 200 at shop.mol:12 (status 503): got 503".into());
        s
    }

    fn render(state: &LiveState, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, state)).unwrap();
        terminal.backend().to_string()
    }

    #[test]
    fn state_keeps_a_one_second_window_and_one_point_per_second() {
        let s = fed_state();
        // 20 ticks of 250 ms: 5 s, one chart point per second.
        assert_eq!(s.rps_points.len(), 5);
        for &(_, rps) in &s.rps_points {
            assert!((rps - 1000.0).abs() < 1e-6, "{:?}", s.rps_points);
        }
        assert!((s.rps_now() - 1000.0).abs() < 1e-6);
        assert!((s.rps_overall() - 1000.0).abs() < 1e-6);
        // The window holds the last 4 ticks: the max latency now is the last tick's 40 ms.
        let now = s.latency_now();
        assert_eq!(now.len(), 12);
        // Sorted: 17 18 19 20 34 36 38 40 50 50 50 50 (ms): the 6th is the median.
        let p50 = now.value_at_quantile(0.5);
        assert!((36_000..36_100).contains(&p50), "{p50}");
        assert!((50_000..50_100).contains(&now.max()), "{}", now.max());
        assert_eq!(s.overall.len(), 60);
        let (ratio, label) = s.progress().unwrap();
        assert!((ratio - 5.0 / 30.0).abs() < 1e-9);
        assert_eq!(label, "00:05 / 00:30  (00:25 left)");
    }

    #[test]
    fn the_view_shows_live_numbers_at_several_sizes() {
        let s = fed_state();
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let screen = render(&s, w, h);
            for needle in [
                "shop.mol",
                "5,000",   // requests
                "1,000/s", // rps now
                "Requests per second",
                "Latency",
                "00:05 / 00:30",
                "FAILED check status == 200",
                "workers 20 / 20",
                "processes 2 / 2",
                "in flight 7",
            ] {
                assert!(
                    screen.contains(needle),
                    "{w}x{h}: no {needle:?} in\n{screen}"
                );
            }
        }
        // The latency chart is shown side by side only when there is room.
        assert!(render(&s, 120, 40).contains("Latency (ms)"));
        assert!(!render(&s, 80, 24).contains("Latency (ms)"));
    }

    #[test]
    fn a_tiny_terminal_gets_the_key_figures() {
        let s = fed_state();
        let screen = render(&s, 40, 10);
        assert!(screen.contains("requests 5,000"), "{screen}");
        assert!(screen.contains("enlarge"), "{screen}");
    }

    #[test]
    fn the_open_model_shows_its_starts_and_backlog() {
        let mut s = fed_state();
        assert!(!render(&s, 200, 40).contains("starts "));
        // 5 s into 200 starts/s: 1,000 due.
        s.shape.schedule = Some(molotov_core::load::RateSchedule::constant(200.0).unwrap());
        for (started, dropped, early, text) in [
            (985, 5, 0, "starts 990 of 1,000 due (12 late, 10 behind)"),
            (998, 0, 0, "starts 998 of 1,000 due (12 late, 2 behind)"),
            (
                998,
                0,
                1_234,
                "starts 998 of 1,000 due (12 late, 1,234 early, 2 behind)",
            ),
        ] {
            let mut last = sample(5_000, 5_000, 250, &[1_000]);
            last.totals = molotov_core::live::Totals {
                runs_started: started,
                dropped_starts: dropped,
                late_starts: 12,
                early_starts: early,
                ..Default::default()
            };
            s.on_sample(&last);
            assert_eq!(
                s.starts_due_and_behind(),
                Some((1000, 1000 - started - dropped))
            );
            let screen = render(&s, 200, 40);
            assert!(screen.contains(text), "{screen}");
        }
        // At 80 columns the figures wrap, all of them kept.
        let screen = render(&s, 80, 24);
        for needle in ["1,234 early", "behind)", "workers 20 / 20", "in flight 7"] {
            assert!(screen.contains(needle), "no {needle:?} in\n{screen}");
        }
        // After a stop at 4 s, 800 were due, whatever the time now.
        s.stopped_at = Some(Duration::from_secs(4));
        assert_eq!(s.starts_due_and_behind(), Some((800, 0)));
    }

    #[test]
    fn stopping_is_shown() {
        let mut s = fed_state();
        s.stops = 1;
        assert!(render(&s, 120, 40).contains("stopping"));
    }

    #[test]
    fn lines_of_the_load_processes_are_shown_with_repeats_collapsed() {
        let mut s = fed_state();
        for _ in 0..3 {
            s.on_child_output("molotov: plan.mol:7: `data.nope` is not set");
        }
        s.on_child_output("another line");
        assert_eq!(s.output_lines.len(), 2);
        let screen = render(&s, 120, 40);
        assert!(
            screen.contains("molotov: plan.mol:7: `data.nope` is not set (x3)"),
            "{screen}"
        );
        assert!(screen.contains("another line"), "{screen}");
    }
}
