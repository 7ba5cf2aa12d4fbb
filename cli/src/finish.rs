//! After the run: thresholds evaluated, the text report printed, the JSON and HTML reports
//! written, and the exit code decided.
//!
//! Report files are opened before the run starts ([`ReportFiles::create`]), so a wrong path
//! fails at once instead of after a long run. An existing file is opened without being
//! emptied: it is replaced only when there is a report to put in it, and a run refused before
//! it starts ([`ReportFiles::abandon`]) leaves it as it was (and removes a file it created).
//!
//! A report that cannot be written makes the exit code 2 (unless the run was interrupted):
//! the report files are written first (regular files, then, once stop signals stop molotov
//! again, those that may wait for a reader: a named pipe, a device), then the streams (the
//! JSON on stdout, the text report), which therefore say the final exit code; a regular file
//! written before a later write failed is written again with it. So every report that
//! reaches its reader says the exit code molotov returns, with two exceptions: with
//! `--json -`, when the text report cannot be written to stderr after the JSON went to
//! stdout; and a report written once as it is (a named pipe, a device, a descriptor given as
//! `/dev/fd/N`, which is written through, at its offset) when a later write failed.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use molotov_core::html_report;
use molotov_core::json_report::{self, Context};
use molotov_core::out_queue::Waiting;
use molotov_core::report;
use molotov_core::run::{Ending, RunConfig, RunResult};
use molotov_core::thresholds;
use molotov_dsl::Program;

use crate::exit::Verdict;

/// A report file, opened before the run.
struct ReportFile {
    path: PathBuf,
    file: File,
    /// This run created it (it did not exist): removed if the run is refused.
    created: bool,
    /// A descriptor molotov was given (`--json /dev/fd/3 3>>ci.log`): written through it, at
    /// its offset (appended when it was opened so), never emptied nor written twice, as
    /// `--json -` is written through stdout. Opened anew by its path it was emptied, and
    /// the log lost its earlier lines.
    inherited: bool,
}

/// Where the JSON report goes.
enum JsonSink {
    Stdout,
    File(ReportFile),
}

/// The report files asked for, opened (an existing one is left as it is until its report is
/// written) before the run.
pub struct ReportFiles {
    json: Option<JsonSink>,
    html: Option<ReportFile>,
}

/// The descriptor `path` names, when it names one of molotov's own by number:
/// `/dev/fd/N`, `/proc/self/fd/N`, `/proc/thread-self/fd/N` or `/proc/PID/fd/N` with
/// molotov's own PID.
fn descriptor_named(path: &Path) -> Option<i32> {
    let text = path.to_str()?;
    let own = format!("/proc/{}/fd/", std::process::id());
    let number = [
        "/dev/fd/",
        "/proc/self/fd/",
        "/proc/thread-self/fd/",
        own.as_str(),
    ]
    .iter()
    .find_map(|prefix| text.strip_prefix(prefix))?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// A copy of descriptor `fd` (sharing its offset and its append mode), for writing a
/// report through it.
fn duplicate(fd: i32, path: &Path, what: &str) -> Result<ReportFile, String> {
    use std::os::fd::FromRawFd;
    let printable = molotov_core::printable::printable_path(path);
    // SAFETY: fcntl(F_GETFL) reads the flags of a descriptor; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(format!(
            "cannot write the {what} to {printable}: descriptor {fd} is not open"
        ));
    }
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(format!(
            "cannot write the {what} to {printable}: descriptor {fd} is open for reading only"
        ));
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor of an open one; no memory is passed.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(format!(
            "cannot write the {what} to {printable}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(ReportFile {
        path: path.to_path_buf(),
        // SAFETY: `copy` was just made by fcntl and is owned by nothing else.
        file: unsafe { File::from_raw_fd(copy) },
        created: false,
        inherited: true,
    })
}

/// Opens `path` for writing without emptying it (creating it when it does not exist).
fn open(path: &Path, what: &str) -> Result<ReportFile, String> {
    let error = |e: std::io::Error| {
        format!(
            "cannot write the {what} to {}: {e}",
            molotov_core::printable::printable_path(path)
        )
    };
    if let Some(fd) = descriptor_named(path) {
        return duplicate(fd, path, what);
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => Ok(ReportFile {
            path: path.to_path_buf(),
            file,
            created: true,
            inherited: false,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
            // A symbolic link whose target does not exist yet (`latest.json -> run-42.json`)
            // is "already there" for `create_new`: its target is created, as a shell's `>`
            // does, and removed again if the run is refused.
            let dangling =
                std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
            // Non-blocking: opening a named pipe for writing waits for a reader, silently and
            // for ever when there is none (before the run: nothing said, nothing sent).
            let file = match OpenOptions::new()
                .write(true)
                .create(dangling)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
            {
                Ok(file) => file,
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    let printable = molotov_core::printable::printable_path(path);
                    // A Unix socket gives ENXIO too; no reader will ever make it writable so.
                    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                        return Err(format!(
                            "cannot write the {what} to {printable}: it is a Unix socket, which \
                             cannot be opened as a file (give a regular file, or --json - for stdout)"
                        ));
                    }
                    return Err(format!(
                        "cannot write the {what} to {0}: no reader on the named pipe {0} \
                         (start its reader first)",
                        printable
                    ));
                }
                Err(e) => return Err(error(e)),
            };
            // Back to blocking writes (this open file description is ours alone): the report
            // is written whole, however slow the reader.
            nix::fcntl::fcntl(
                &file,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
            )
            .map_err(|e| error(e.into()))?;
            Ok(ReportFile {
                path: path.to_path_buf(),
                file,
                created: dangling,
                inherited: false,
            })
        }
        Err(e) => Err(error(e)),
    }
}

impl ReportFile {
    /// Whether the report is written once, as it is (a named pipe, a device, a descriptor
    /// molotov was given): never emptied first, nor written again with another exit code.
    fn is_stream(&self) -> bool {
        self.inherited || !self.file.metadata().is_ok_and(|m| m.is_file())
    }

    /// Whether writing may wait for a reader (a pipe, a socket, a terminal): anything but a
    /// regular file.
    fn may_wait(&self) -> bool {
        !self.file.metadata().is_ok_and(|m| m.is_file())
    }

    /// A regular file opened before the run that its path no longer names (removed, renamed
    /// or replaced during the run: a clean-up, a log rotation) is opened again at the path,
    /// created if need be, so that the report lands where it was asked for instead of in a
    /// file nobody can reach.
    fn reopen_if_moved(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let opened = self.file.metadata()?;
        if !opened.is_file() {
            return Ok(());
        }
        let same = std::fs::metadata(&self.path)
            .is_ok_and(|m| m.dev() == opened.dev() && m.ino() == opened.ino());
        if !same {
            self.file = OpenOptions::new()
                .write(true)
                .create(true)
                // `replace` empties it, once the report is there to write.
                .truncate(false)
                .open(&self.path)
                .map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "the file opened before the run was removed or renamed, and it \
                             cannot be created again ({e})"
                        ),
                    )
                })?;
        }
        Ok(())
    }

    /// Replaces the file's contents with `bytes` (a regular file is emptied first; a device
    /// or a pipe, `/dev/stdout` say, is written to as it is).
    fn replace(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.inherited {
            self.file.write_all(bytes)?;
            return self.file.flush();
        }
        self.reopen_if_moved()?;
        if self.file.metadata()?.is_file() {
            self.file.set_len(0)?;
            self.file.seek(SeekFrom::Start(0))?;
        }
        self.file.write_all(bytes)?;
        self.file.flush()
    }

    /// After a failed write: a regular file is emptied (best effort), never left with half
    /// a report that a reader could take for a whole one.
    fn discard(&mut self) {
        if !self.is_stream() {
            let _ = self.file.set_len(0);
        }
    }
}

/// Where `path` leads once links and `..` are resolved (the file need not exist yet), for
/// comparing it with other paths. A dangling symbolic link (`latest.json -> run-42.json`,
/// its target not there yet) leads where its target would be created: the file a write
/// through it creates.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(path) {
        return path;
    }
    let mut path = path.to_path_buf();
    // Each link of a chain of dangling links, up to the missing file (as many as the
    // kernel follows before ELOOP).
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        path = match path.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
        if let Ok(path) = std::fs::canonicalize(&path) {
            return path;
        }
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path,
    }
}

/// A file's device and inode.
type FileId = (u64, u64);

/// The regular file `path` names, as (device, inode), when it exists: two paths to one file
/// (a hard link, a bind mount) have the same, whatever their names. (Devices are left out:
/// `--json /dev/stdout --html /dev/stderr` on one terminal is not one file.)
fn identity(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino()))
}

/// One of molotov's own output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// The file behind descriptor `fd` as (device, inode), unless it is a device (a terminal,
/// `/dev/null`): a device has no offset to share, and a report is written to it as it is.
fn stream_identity(fd: i32) -> Option<FileId> {
    // SAFETY: fd 1 and 2 stay open for the whole process (Rust's runtime opens /dev/null on
    // a closed one at start-up); the borrow lives only for the fstat.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let st = nix::sys::stat::fstat(fd).ok()?;
    let kind = st.st_mode & libc::S_IFMT;
    (kind != libc::S_IFCHR && kind != libc::S_IFBLK).then_some((st.st_dev, st.st_ino))
}

/// Which of molotov's streams `path` names: the same file, by device and inode, as stdout or
/// stderr (`/dev/stdout`, `/proc/self/fd/1`, or the file or pipe stdout was redirected to),
/// however the path is spelled. A device (a terminal, `/dev/null`) is none.
fn stream_named(path: &Path) -> Option<Stream> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    let id = Some((m.dev(), m.ino()));
    if stream_identity(1) == id {
        Some(Stream::Stdout)
    } else if stream_identity(2) == id {
        Some(Stream::Stderr)
    } else {
        None
    }
}

/// Whether `--json PATH` names molotov's own stdout (`--json /dev/stdout > out.txt`,
/// `--json /dev/stdout | jq`): it is then written as `--json -` is, through stdout, in order
/// and without emptying what stdout's file held, with the text report on stderr. Opened as
/// a file of its own it emptied the file (a `>>` log lost its earlier lines) and the text
/// report then overwrote the JSON.
pub fn json_names_stdout(path: &Path) -> bool {
    path != Path::new("-") && stream_named(path) == Some(Stream::Stdout)
}

/// Checks, before the run, that the streams the reports go to can take them: stdout (the
/// text report, or the JSON with `--json -`) and, with `--json -`, stderr (the text report)
/// open for writing (one open read-only failed every write with EBADF, which Rust's stdout
/// takes for success: the report lost, "Result: OK"), and a stdout pipe that the JSON goes to
/// still read (`molotov --json - plan | jq` without jq: the whole load was sent, then exit 2).
fn check_streams(json_to_stdout: bool) -> Result<(), String> {
    let read_only = |fd: i32| {
        // SAFETY: fcntl(F_GETFL) reads the flags of a descriptor; no memory is passed.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        flags >= 0 && flags & libc::O_ACCMODE == libc::O_RDONLY
    };
    let (on_stdout, on_stderr) = if json_to_stdout {
        ("JSON report", Some("text report"))
    } else {
        ("text report", None)
    };
    if read_only(1) {
        return Err(format!(
            "cannot write the {on_stdout} to stdout: it is open for reading only"
        ));
    }
    if let Some(what) = on_stderr
        && read_only(2)
    {
        return Err(format!(
            "cannot write the {what} to stderr: it is open for reading only"
        ));
    }
    if json_to_stdout {
        let mut pfd = libc::pollfd {
            fd: 1,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd that lives for the call, without waiting.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        if n > 0 && pfd.revents & libc::POLLERR != 0 {
            return Err(
                "cannot write the JSON report to stdout: the pipe has no reader (the command \
                 that was to read it has already ended)"
                    .into(),
            );
        }
        // A socket whose peer has closed says POLLHUP, not POLLERR.
        if n > 0 && pfd.revents & libc::POLLHUP != 0 {
            return Err(
                "cannot write the JSON report to stdout: its reader has hung up (the socket's \
                 other end is closed)"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Refuses report paths that would overwrite a file the run reads (the plan's files, and
/// `others`: `--config`, `--cacert`, each with its flag), or each other, or that name one of
/// molotov's own streams: the same path once resolved, or the same existing file under
/// another name (a hard link).
fn check_paths(
    json: Option<&Path>,
    html: Option<&Path>,
    inputs: &[PathBuf],
    others: &[(&str, &Path)],
) -> Result<(), String> {
    if html.is_some_and(|p| p == Path::new("-")) {
        return Err(
            "--html -: the HTML report goes to a file (only --json writes to stdout, with -); \
             to write a file named -, give ./-"
                .into(),
        );
    }
    let json = json.filter(|p| *p != Path::new("-"));
    let input_ids: Vec<FileId> = inputs.iter().filter_map(|p| identity(p)).collect();
    let mut seen: Vec<(&str, PathBuf, Option<FileId>)> = Vec::new();
    for (flag, path) in [("--json", json), ("--html", html)] {
        let Some(path) = path else { continue };
        let target = resolved(path);
        let id = identity(path);
        let printable = molotov_core::printable::printable_path(path);
        if inputs.contains(&target) || id.is_some_and(|id| input_ids.contains(&id)) {
            return Err(format!(
                "{flag} {printable}: the plan is read from that file, and the report would \
                 overwrite it"
            ));
        }
        if let Some((other, _)) = others
            .iter()
            .find(|(_, p)| resolved(p) == target || id.is_some_and(|id| identity(p) == Some(id)))
        {
            return Err(format!(
                "{flag} {printable}: that is the {other} file, read for this run, and the report \
                 would overwrite it"
            ));
        }
        match stream_named(path) {
            Some(Stream::Stdout) => {
                return Err(format!(
                    "{flag} {printable}: that is molotov's stdout, where the text report goes: \
                     give the report a file of its own"
                ));
            }
            Some(Stream::Stderr) => {
                return Err(format!(
                    "{flag} {printable}: that is molotov's stderr, where its messages go: give \
                     the report a file of its own (or, for the JSON on a stream, --json -: \
                     stdout)"
                ));
            }
            None => {}
        }
        if let Some((other, _, _)) = seen
            .iter()
            .find(|(_, t, i)| *t == target || (id.is_some() && *i == id))
        {
            return Err(format!(
                "{other} and {flag} name the same file ({}): give each report its own",
                molotov_core::printable::printable_path(path)
            ));
        }
        seen.push((flag, target, id));
    }
    Ok(())
}

impl ReportFiles {
    /// Opens the files of `--json` (unless `-`) and `--html`, after checking that neither is
    /// one of `inputs` (the files the plan was read from) or `others` (the other files the
    /// run reads, with their flags), nor the other, nor one of molotov's streams, and that
    /// the streams the reports go to can be written. An existing file keeps its contents
    /// until [`finish`] writes the report.
    pub fn create(
        json: Option<&Path>,
        html: Option<&Path>,
        inputs: &[PathBuf],
        others: &[(&str, &Path)],
    ) -> Result<ReportFiles, String> {
        check_paths(json, html, inputs, others)?;
        check_streams(json.is_some_and(|p| p == Path::new("-")))?;
        let json = match json {
            None => None,
            Some(p) if p == Path::new("-") => Some(JsonSink::Stdout),
            Some(p) => Some(JsonSink::File(open(p, "JSON report")?)),
        };
        let html = match html {
            None => None,
            Some(p) => match open(p, "HTML report") {
                Ok(file) => Some(file),
                Err(e) => {
                    ReportFiles { json, html: None }.abandon();
                    return Err(e);
                }
            },
        };
        Ok(ReportFiles { json, html })
    }

    /// The run did not start: there is no report. Files that existed are left as they were;
    /// those [`ReportFiles::create`] made (empty) are removed.
    pub fn abandon(self) {
        let json = match self.json {
            Some(JsonSink::File(f)) => Some(f),
            _ => None,
        };
        for f in json.into_iter().chain(self.html) {
            if f.created {
                // Through a symbolic link: the file it created, not the link.
                let _ = std::fs::remove_file(std::fs::canonicalize(&f.path).unwrap_or(f.path));
            }
        }
    }
}

/// What the end of a run needs.
pub struct Finish<'a> {
    /// The plan as given (`demo` for the demo).
    pub plan: &'a str,
    /// The compiled plan.
    pub program: &'a Program,
    /// The run's settings.
    pub config: &'a RunConfig,
    /// `-f`.
    pub fail: Option<u64>,
    /// Print the seed (with `-v` or `--debug`).
    pub show_seed: bool,
    /// When the load started (wall clock).
    pub started_at: SystemTime,
    /// Sections printed after the main report (the load models' own).
    pub extra: String,
}

/// A report file to write, and the exit code it was written with.
struct Pending {
    /// "the JSON report", "the HTML report".
    name: &'static str,
    html: bool,
    file: ReportFile,
    written_with: Option<u8>,
}

impl Pending {
    /// Replaces the file's contents with `report` (written with exit code `code`); on a
    /// failure says so on stderr, empties the file and returns false.
    fn write(&mut self, report: &str, code: u8) -> bool {
        match self.file.replace(report.as_bytes()) {
            Ok(()) => {
                self.written_with = Some(code);
                true
            }
            Err(e) => {
                molotov_core::errln!(
                    "molotov: error: cannot write {} to {}: {e}",
                    self.name,
                    molotov_core::printable::printable_path(&self.file.path)
                );
                self.file.discard();
                false
            }
        }
    }
}

/// Writes `text` to stdout; a reader that went away (`molotov ... | head -1`) asked for no
/// more, and is not an error.
pub fn to_stdout(text: &str) -> std::io::Result<()> {
    // Not `print!`: a failure must not make the master panic before the report files are
    // written. `Waiting`: a stdout handed down non-blocking waits for its reader.
    to_stream(&mut Waiting(std::io::stdout().lock()), text)
}

/// Writes `text` to stderr, waiting for its reader like the report ([`Waiting`]): a plan's
/// diagnostics and warnings, which can be longer than a pipe holds (a thousand errors is
/// 136 KB), were cut at 64 KiB, mid-line, on a stderr handed down non-blocking and read
/// late. Failures are ignored, as by `errln!`.
pub fn to_stderr(text: &str) {
    let _ = to_stream(&mut Waiting(std::io::stderr().lock()), text);
}

/// Writes `text` to `out` (stdout or stderr, through [`Waiting`]: a stream inherited
/// non-blocking makes the report wait for its reader, as a blocking one does, instead of
/// ending it at the pipe's capacity with EAGAIN); a reader that went away asked for no more,
/// and is not an error.
fn to_stream(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints the text report, writes the report files and returns the exit code.
pub fn finish(f: &Finish<'_>, result: &RunResult, files: ReportFiles) -> u8 {
    let outcomes = thresholds::evaluate(f.program, &result.summary);
    let verdict = Verdict::of(result, f.program, f.fail, thresholds::all_passed(&outcomes));
    // The reports that could not be written: each makes the exit code 2 (README).
    let mut unwritten: Vec<&'static str> = Vec::new();
    let json_with = |code: u8| {
        json_report::build(&Context {
            plan: f.plan,
            program: f.program,
            config: f.config,
            result,
            thresholds: &outcomes,
            started_at: f.started_at,
            fail: f.fail,
            exit_code: code,
        })
    };
    let render = |html: bool, code: u8| {
        let built = json_with(code);
        if html {
            html_report::render(&built)
        } else {
            built.to_json()
        }
    };
    let ReportFiles { json, html } = files;
    let mut json_to_stdout = false;
    let mut pending = Vec::new();
    match json {
        None => {}
        Some(JsonSink::Stdout) => json_to_stdout = true,
        Some(JsonSink::File(file)) => pending.push(Pending {
            name: "the JSON report",
            html: false,
            file,
            written_with: None,
        }),
    }
    if let Some(file) = html {
        pending.push(Pending {
            name: "the HTML report",
            html: true,
            file,
            written_with: None,
        });
    }
    // The files first: each says the exit code known when it is written. Regular files,
    // then (once a stop signal stops molotov again) those that may wait for a reader: a
    // named pipe or `--json >(upload)` whose reader does not read made molotov wait, deaf
    // to all but SIGKILL.
    for later in [false, true] {
        if later {
            // From here a stop signal stops molotov (a stream whose reader does not read
            // made it wait, deaf to all but SIGKILL).
            molotov_core::process::release_stop_signals();
        }
        for p in pending.iter_mut().filter(|p| p.file.may_wait() == later) {
            let code = verdict.code_with_unwritten(&unwritten);
            if !p.write(&render(p.html, code), code) {
                unwritten.push(p.name);
            }
        }
    }
    // The live lines still queued (a reader that stopped reading), before the report: the
    // load is over, nothing waits for this but the report.
    crate::live_output::drain();
    // Then the streams, which cannot be written again: they say the final code unless a
    // stream written after them fails.
    if json_to_stdout
        && let Err(e) = {
            let mut out = Waiting(std::io::stdout().lock());
            let code = verdict.code_with_unwritten(&unwritten);
            out.write_all(json_with(code).to_json().as_bytes())
                .and_then(|()| out.flush())
        }
    {
        // A reader that went away here lost the JSON it asked for: an error too.
        molotov_core::errln!("molotov: error: cannot write the JSON report to stdout: {e}");
        unwritten.push("the JSON report");
    }
    let text = text_report(f, result, &outcomes, &verdict, &unwritten);
    if json_to_stdout {
        // stderr: nowhere left to say that it failed but the exit code. A reader that went
        // away (`molotov --json - plan 2>&1 >report.json | head -5`) asked for no more, as on
        // stdout: not an error (it was, exit 2 with no word of why).
        if to_stream(&mut Waiting(std::io::stderr().lock()), &text).is_err() {
            unwritten.push("the text report");
        }
    } else if let Err(e) = to_stdout(&text) {
        molotov_core::errln!("molotov: error: cannot write the text report to stdout: {e}");
        unwritten.push("the text report");
    }
    let code = verdict.code_with_unwritten(&unwritten);
    // A file written before a later failure changed the exit code: written again with it
    // (not a stream: the report would be there twice).
    for p in &mut pending {
        if p.written_with.is_some_and(|c| c != code) && !p.file.is_stream() {
            p.write(&render(p.html, code), code);
        }
    }
    code
}

/// The text report, its last line saying the exit code (with the reports not written).
fn text_report(
    f: &Finish<'_>,
    result: &RunResult,
    outcomes: &[thresholds::ThresholdOutcome],
    verdict: &Verdict,
    unwritten: &[&str],
) -> String {
    let mut text = report::render(&result.summary);
    text.push_str(&f.extra);
    text.push_str(&report::render_thresholds(outcomes));
    if let Some(failure) = &result.first_failure
        && matches!(
            result.ending,
            Ending::StoppedOnFailure | Ending::SetupFailed
        )
    {
        let label = if result.ending == Ending::SetupFailed {
            "setup failed"
        } else {
            "stopped on the first failure"
        };
        let at = failure
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let status = if failure.status > 0 {
            format!(" (status {})", failure.status)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\n{label}: {}{at}{status}: {}\n",
            failure.what, failure.message
        ));
    }
    text.push_str(&format!(
        "\nResult: {}\n",
        verdict.explain_with_unwritten(unwritten)
    ));
    if f.show_seed {
        text.push_str(&format!("seed: {}\n", f.config.options.seed));
    }
    text
}
