//! Which live view a run gets, and the small observers `main` adds beside it.
//!
//! - `-q`: no live lines (failures still go to stderr under `-v`);
//! - `-c`, `-v`/`-vv` (children print `log` lines and dumps to stderr, which would tear a
//!   full-screen view), stdout not a terminal, `TERM=dumb`, or `--json -`: the console, one
//!   line per `--console-update` interval;
//! - otherwise, a terminal: the full-screen view (the load processes' stderr then reaches it
//!   through the master, see `molotov_core::child_output`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use molotov_core::run::Observer;
use molotov_core::shm::Region;
use molotov_core::summary::{Names, ProcessInfo};

use crate::console::{self, Console, FailureLog, Stream};
use crate::tui::{self, RunShape, Tui};

/// The live views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// The full-screen view.
    FullScreen,
    /// One line per interval.
    Console,
    /// Nothing live.
    Quiet,
}

/// What decides the view.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// `-q`.
    pub quiet: bool,
    /// `-c`.
    pub console: bool,
    /// `-v` count.
    pub verbose: u8,
    /// stdout is a terminal.
    pub stdout_is_terminal: bool,
    /// `TERM` is `dumb` or unset.
    pub dumb_terminal: bool,
    /// `--json -`: stdout carries the JSON report.
    pub json_to_stdout: bool,
}

/// Picks the view.
pub fn choose(c: &Context) -> ViewKind {
    if c.quiet {
        ViewKind::Quiet
    } else if c.console
        || c.verbose > 0
        || !c.stdout_is_terminal
        || c.dumb_terminal
        || c.json_to_stdout
    {
        ViewKind::Console
    } else {
        ViewKind::FullScreen
    }
}

/// How often the master calls the view.
pub fn tick(kind: ViewKind, console_update: Duration) -> Duration {
    match kind {
        ViewKind::FullScreen => tui::TICK,
        ViewKind::Console => console_update,
        ViewKind::Quiet => console::QUIET_TICK,
    }
}

/// Builds the view; `failures` (under `-v`) prints each distinct failure once.
pub fn make(
    kind: ViewKind,
    names: Names,
    shape: RunShape,
    failures: Option<Rc<RefCell<FailureLog>>>,
    stream: Stream,
) -> Box<dyn Observer> {
    match kind {
        ViewKind::Console => Box::new(Console::new(
            true,
            failures,
            stream,
            shape.schedule.map(|s| (s, shape.duration)),
        )),
        ViewKind::Quiet => Box::new(Console::new(false, failures, stream, None)),
        ViewKind::FullScreen => Box::new(Tui::new(names, shape)),
    }
}

/// Records the wall-clock time at which the load started (for the JSON report): the start
/// the durations count from, after the open model's `setup worker` logins (which once made
/// `started_at` early by their time, up to the 10 s ready wait).
#[derive(Debug, Clone, Default)]
pub struct StartClock(pub Rc<Cell<Option<SystemTime>>>);

impl Observer for StartClock {
    fn started(&mut self, _processes: &[ProcessInfo]) {
        // Until the start is given (a run stopped while forking has no other).
        self.0.set(Some(SystemTime::now()));
    }
    fn load_started(&mut self, start: Instant, _region: &Region) {
        let now = Instant::now();
        let wall = SystemTime::now();
        // `start` is a few ms ahead of the clock, or just behind it.
        let at = match start.checked_duration_since(now) {
            Some(ahead) => wall + ahead,
            None => wall - now.duration_since(start),
        };
        self.0.set(Some(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_follows_flags_and_terminal() {
        let tty = Context {
            stdout_is_terminal: true,
            ..Context::default()
        };
        let cases: &[(Context, ViewKind)] = &[
            (tty, ViewKind::FullScreen),
            (Context::default(), ViewKind::Console),
            (
                Context {
                    console: true,
                    ..tty
                },
                ViewKind::Console,
            ),
            (Context { quiet: true, ..tty }, ViewKind::Quiet),
            (
                Context {
                    quiet: true,
                    ..Context::default()
                },
                ViewKind::Quiet,
            ),
            (Context { verbose: 1, ..tty }, ViewKind::Console),
            (Context { verbose: 2, ..tty }, ViewKind::Console),
            (
                Context {
                    dumb_terminal: true,
                    ..tty
                },
                ViewKind::Console,
            ),
            (
                Context {
                    json_to_stdout: true,
                    ..tty
                },
                ViewKind::Console,
            ),
        ];
        for (context, want) in cases {
            assert_eq!(choose(context), *want, "{context:?}");
        }
        assert_eq!(
            tick(ViewKind::Console, Duration::from_millis(500)),
            Duration::from_millis(500)
        );
        assert_eq!(
            tick(ViewKind::FullScreen, Duration::from_secs(5)),
            tui::TICK
        );
    }
}
