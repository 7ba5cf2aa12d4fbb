//! The terminal side of the full-screen view: raw mode and the alternate screen while the
//! view is up, and the keyboard.
//!
//! The master must stay single-threaded (it forks children while the view is up), so nothing
//! here starts a thread or installs a signal handler: raw mode is plain termios on the
//! controlling terminal, keys are read without blocking from a descriptor the master's loop
//! polls, and resizes are picked up by ratatui at the next draw (it compares the terminal's
//! size on every frame).
//!
//! The terminal is always restored: when the [`Screen`] drops (normal end, errors, SIGTERM,
//! which the master reads as an interrupt and then ends normally) and on a panic in the master
//! (a panic hook that restores first, then prints the panic). The hook does nothing in forked
//! children, which inherit it: a child's panic must not tear down the master's screen.
//! Restoring never fails and never panics, also when the terminal is gone (a hang-up): its
//! writes ignore errors, and nothing of ratatui's writes or prints once the screen is closed.

use std::fs::File;
use std::io::{self, Stdout, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::termios::{self, SetArg};
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::{Frame, Terminal};

/// Leaves the alternate screen and shows the cursor.
const LEAVE: &[u8] = b"\x1b[?25h\x1b[?1049l";
/// Enters the alternate screen, hides the cursor and clears the screen.
const ENTER: &[u8] = b"\x1b[?1049h\x1b[?25l\x1b[2J";

/// Whether the screen is up (so that restoring twice is harmless).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The descriptor whose termios were changed (-1: none).
static TTY_FD: AtomicI32 = AtomicI32::new(-1);
/// The terminal settings to restore.
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);
/// The process that owns the screen (children inherit the panic hook, and must not restore).
static OWNER: AtomicU32 = AtomicU32::new(0);
static HOOK: Once = Once::new();

/// The largest screen the view draws: a terminal that says it is larger (65535x65535, from a
/// broken `stty` or a hostile pty) gets a view of this size in its top-left corner. The view
/// keeps two buffers of width x height cells (tens of bytes each): unbounded, a huge size
/// made the first frame allocate hundreds of gigabytes and abort the master, its terminal
/// left on the alternate screen. 1000x400 is more than a 4K screen shows with a small font.
pub const MAX_VIEW: Size = Size {
    width: 1000,
    height: 400,
};

/// A backend whose size is the terminal's, clamped to [`MAX_VIEW`].
///
/// Once [`Clamped::detach`]ed it writes nothing and never fails: the view has given the
/// terminal back (see [`Screen`]'s `Drop`).
pub struct Clamped<B> {
    inner: B,
    detached: bool,
}

impl<B> Clamped<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Clamped<B> {
        Clamped {
            inner,
            detached: false,
        }
    }

    /// From now on every call succeeds without touching the terminal.
    pub fn detach(&mut self) {
        self.detached = true;
    }
}

/// `call` on the backend, or nothing when it is detached.
macro_rules! unless_detached {
    ($self:ident, $call:expr) => {
        if $self.detached { Ok(()) } else { $call }
    };
}

impl<B: Backend> Backend for Clamped<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        unless_detached!(self, self.inner.draw(content))
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.append_lines(n))
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.hide_cursor())
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.show_cursor())
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        if self.detached {
            return Ok(Position::ORIGIN);
        }
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.set_cursor_position(position))
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.clear())
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.clear_region(clear_type))
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size().map(clamp)
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size().map(|w| WindowSize {
            columns_rows: clamp(w.columns_rows),
            pixels: w.pixels,
        })
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        unless_detached!(self, self.inner.flush())
    }
}

/// `size` within [`MAX_VIEW`].
fn clamp(size: Size) -> Size {
    Size {
        width: size.width.min(MAX_VIEW.width),
        height: size.height.min(MAX_VIEW.height),
    }
}

/// The full-screen terminal while the view is up.
pub struct Screen {
    terminal: Terminal<Clamped<CrosstermBackend<Stdout>>>,
    /// The controlling terminal, opened for reading keys (non-blocking) and for termios.
    tty: Option<File>,
    /// The terminal hung up (or reading failed): stop polling it, or the master's loop would
    /// wake up at once, forever.
    keys_closed: bool,
}

/// Something the keyboard asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `q`, `Q` or Ctrl-C: stop the run (a second one: stop now).
    Stop,
}

/// The keys in `bytes` read from a raw-mode terminal. Escape sequences (arrows, function
/// keys: `ESC O Q` is F2) are skipped whole so that their letters are not taken for keys.
pub fn keys(bytes: &[u8]) -> Vec<Key> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                // ESC [ params final  |  ESC O final  |  ESC alone or ESC + one key (Alt+key).
                i += 1;
                match bytes.get(i) {
                    Some(b'[') => {
                        i += 1;
                        while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                            i += 1;
                        }
                        i += 1;
                    }
                    // SS3: ESC O and one final byte (F1-F4, keypad).
                    Some(b'O') => i += 2,
                    // Alt+key: the key is not a key of ours.
                    Some(_) => i += 1,
                    None => {}
                }
            }
            b'q' | b'Q' | 0x03 => {
                out.push(Key::Stop);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn open_tty() -> Option<File> {
    let fd: OwnedFd = open(
        "/dev/tty",
        OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .ok()?;
    Some(File::from(fd))
}

/// Restores the terminal if the screen is up; safe to call more than once, and from the
/// panic hook (no allocation, no lock held across a call that could panic).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    // SAFETY: write(2) of a static buffer to stdout; a short or failed write only leaves the
    // terminal on the alternate screen, which the user can leave with `reset`.
    unsafe {
        libc::write(1, LEAVE.as_ptr().cast(), LEAVE.len());
    }
    let fd = TTY_FD.swap(-1, Ordering::SeqCst);
    let saved = SAVED.try_lock().ok().and_then(|mut s| s.take());
    if let Some(saved) = saved
        && fd >= 0
    {
        // SAFETY: tcsetattr(3) with a termios value we read from this same descriptor; the
        // descriptor is owned by the Screen, which outlives every call made while ACTIVE.
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, &saved);
        }
    }
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::process::id() == OWNER.load(Ordering::SeqCst) {
                restore();
            }
            previous(info);
        }));
    });
}

impl Screen {
    /// Puts the terminal in raw mode on the alternate screen.
    pub fn enter() -> io::Result<Screen> {
        let tty = open_tty();
        // Raw mode on the controlling terminal (or stdin when there is none to open): keys
        // arrive one by one and Ctrl-C is a key, not SIGINT.
        let raw_fd = match &tty {
            Some(f) => Some(f.as_raw_fd()),
            None if std::io::IsTerminal::is_terminal(&io::stdin()) => Some(0),
            None => None,
        };
        OWNER.store(std::process::id(), Ordering::SeqCst);
        install_panic_hook();
        if let Some(fd) = raw_fd {
            // SAFETY: the descriptor is open for the life of this call (it is the tty File we
            // hold, or stdin).
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let original = termios::tcgetattr(borrowed).map_err(io::Error::from)?;
            let mut raw = original.clone();
            termios::cfmakeraw(&mut raw);
            // Keep output processing: a stray line from a child process then starts at the
            // left edge instead of drifting.
            raw.output_flags = original.output_flags;
            if let Ok(mut saved) = SAVED.lock() {
                *saved = Some(libc::termios::from(original));
            }
            TTY_FD.store(fd, Ordering::SeqCst);
            termios::tcsetattr(borrowed, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
        }
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = io::stdout();
        let entered = out.write_all(ENTER).and_then(|()| out.flush());
        let terminal =
            entered.and_then(|()| Terminal::new(Clamped::new(CrosstermBackend::new(io::stdout()))));
        match terminal {
            Ok(terminal) => Ok(Screen {
                terminal,
                tty,
                keys_closed: false,
            }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Draws a frame (resizing first when the terminal's size changed).
    pub fn draw(&mut self, render: impl FnOnce(&mut Frame<'_>)) -> io::Result<()> {
        self.terminal.draw(render).map(|_| ())
    }

    /// Forgets what is on screen, so that the next draw repaints every cell (after something
    /// else may have written to the terminal).
    pub fn clear(&mut self) {
        let _ = self.terminal.clear();
    }

    /// The descriptor to poll for keys.
    pub fn input(&self) -> Option<BorrowedFd<'_>> {
        if self.keys_closed {
            return None;
        }
        self.tty.as_ref().map(|f| f.as_fd())
    }

    /// The keys typed since the last call (never blocks).
    pub fn read_keys(&mut self) -> Vec<Key> {
        let Some(tty) = &mut self.tty else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match io::Read::read(tty, &mut buf) {
                Ok(0) => {
                    self.keys_closed = true;
                    break;
                }
                Ok(n) => {
                    bytes.extend_from_slice(&buf[..n]);
                    if bytes.len() > 4096 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.keys_closed = true;
                    break;
                }
            }
        }
        keys(&bytes)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.terminal.backend_mut().flush();
        // Shows the cursor and leaves the alternate screen, ignoring errors.
        restore();
        // ratatui's own `Drop for Terminal` shows the cursor again and, when that fails,
        // reports it with `eprintln!`, which panics when stderr fails too: after a hang-up
        // (a closed terminal, a dropped ssh session) both are the dead terminal, and the
        // master died with exit 101 before writing its reports. The cursor is shown above;
        // the detached backend makes ratatui's attempt a silent success.
        self.terminal.backend_mut().detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_keys_and_escape_sequences() {
        let cases: &[(&[u8], usize)] = &[
            (b"q", 1),
            (b"Q", 1),
            (b"\x03", 1),
            (b"qq", 2),
            (b"x", 0),
            (b"\x1b[A", 0),    // arrow up
            (b"\x1bOQ", 0),    // F2
            (b"\x1b[15~", 0),  // F5
            (b"\x1b[1;5Q", 0), // Ctrl+F2
            (b"\x1bq", 0),     // Alt+q
            (b"\x1b[Aq", 1),   // arrow then q
            (b"a\x1bOQbq\x03", 2),
            (b"\x1b", 0),
            (b"\x1b[", 0),
        ];
        for &(bytes, want) in cases {
            assert_eq!(keys(bytes).len(), want, "{bytes:?}");
        }
    }

    /// A terminal that says it is `size` and shows nothing (it keeps no cells).
    struct Huge(Size);

    impl Backend for Huge {
        type Error = io::Error;

        fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
        where
            I: Iterator<Item = (u16, u16, &'a Cell)>,
        {
            content.for_each(drop);
            Ok(())
        }

        fn hide_cursor(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn show_cursor(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn get_cursor_position(&mut self) -> io::Result<Position> {
            Ok(Position::ORIGIN)
        }

        fn set_cursor_position<P: Into<Position>>(&mut self, _: P) -> io::Result<()> {
            Ok(())
        }

        fn clear(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn clear_region(&mut self, _: ClearType) -> io::Result<()> {
            Ok(())
        }

        fn size(&self) -> io::Result<Size> {
            Ok(self.0)
        }

        fn window_size(&mut self) -> io::Result<WindowSize> {
            Ok(WindowSize {
                columns_rows: self.0,
                pixels: Size::new(0, 0),
            })
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_huge_terminal_gets_a_bounded_view() {
        // 65535x65535: two buffers of that many cells used to be allocated (206 GB), and the
        // master aborted.
        let mut terminal = Terminal::new(Clamped::new(Huge(Size::new(65535, 65535)))).unwrap();
        assert_eq!(terminal.size().unwrap(), MAX_VIEW);
        let frame = terminal
            .draw(|f| {
                assert_eq!(f.area().as_size(), MAX_VIEW);
            })
            .unwrap();
        assert_eq!(frame.area.as_size(), MAX_VIEW);
        assert_eq!(
            terminal.backend_mut().window_size().unwrap().columns_rows,
            MAX_VIEW
        );
        // Within the bound, the terminal's own size, one side clamped or none.
        for (size, view) in [
            (Size::new(80, 24), Size::new(80, 24)),
            (Size::new(4000, 30), Size::new(1000, 30)),
            (Size::new(100, 10000), Size::new(100, 400)),
        ] {
            let terminal = Terminal::new(Clamped::new(Huge(size))).unwrap();
            assert_eq!(terminal.size().unwrap(), view, "{size:?}");
        }
    }

    #[test]
    fn restore_without_a_screen_does_nothing() {
        // Not active: must not write to the terminal nor touch any descriptor.
        restore();
        restore();
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }
}
