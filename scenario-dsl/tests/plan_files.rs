//! Plans that are not what a plan should be: too large, endless, directories, binary files,
//! UTF-16; and what the compiled program says about its origins (the engine resolves them and
//! sizes its file descriptors from them before a run).

use std::path::{Path, PathBuf};

use molotov_dsl::{CompileOptions, PlanOrigin, compile, compile_source};

/// A fresh directory for one test, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "molotov-dsl-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn error_of(path: &Path) -> String {
    let diagnostics = compile(path, &CompileOptions::default())
        .map(|_| ())
        .expect_err("should not compile");
    assert!(diagnostics.error_count() >= 1);
    diagnostics.to_string()
}

const PLAN: &str = "defaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  GET /\n}\n";

#[test]
fn a_plan_over_16_mib_is_refused_without_reading_it_all() {
    let dir = Dir::new("huge");
    let mut text = PLAN.as_bytes().to_vec();
    let comment = format!("# {}\n", "x".repeat(1021));
    while text.len() <= 16 << 20 {
        text.extend_from_slice(comment.as_bytes());
    }
    let path = dir.write("huge.mol", &text);
    let err = error_of(&path);
    assert!(
        err.contains("cannot read the plan: it is larger than 16 MiB"),
        "{err}"
    );
    // Just under the limit is fine.
    text.truncate(16 << 20);
    let cut = text.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    text.truncate(cut);
    let path = dir.write("big.mol", &text);
    assert!(compile(&path, &CompileOptions::default()).is_ok());
}

#[test]
fn an_endless_file_is_refused() {
    // /dev/zero never ends: reading it whole would exhaust memory.
    let err = error_of(Path::new("/dev/zero"));
    assert!(err.contains("larger than 16 MiB"), "{err}");
}

#[test]
fn a_directory_is_named_as_such() {
    let dir = Dir::new("dir");
    let err = error_of(&dir.0);
    assert!(
        err.contains("cannot read the plan: it is a directory, not a file"),
        "{err}"
    );
}

#[test]
fn binary_and_utf16_files_get_one_clear_error() {
    let dir = Dir::new("binary");
    // NUL bytes are valid UTF-8, so UTF-16 text would otherwise reach the lexer.
    let utf16: Vec<u8> = PLAN.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let path = dir.write("utf16.mol", &utf16);
    let err = error_of(&path);
    assert!(
        err.starts_with("error: the file contains a NUL byte\n"),
        "{err}"
    );
    assert!(err.contains("utf16.mol:1:2"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");

    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0\x01\0\0\0\x1b[2J".to_vec();
    elf.extend(std::iter::repeat_n(0xffu8, 10_000));
    let path = dir.write("a.out", &elf);
    let err = error_of(&path);
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
    // Nothing from the file may drive the terminal, and the frame stays short.
    assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{err:?}");
    assert!(err.len() < 1_000, "{} bytes:\n{err}", err.len());
}

#[test]
fn a_utf16_plan_with_a_byte_order_mark_is_called_utf16() {
    // As Notepad's "Unicode" and PowerShell 5's `Out-File` write it: a mark, then UTF-16.
    let dir = Dir::new("utf16-bom");
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(PLAN.encode_utf16().flat_map(|u| u.to_le_bytes()))
        .collect();
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(PLAN.encode_utf16().flat_map(|u| u.to_be_bytes()))
        .collect();
    for (name, bytes, order) in [("le.mol", le.clone(), "LE"), ("be.mol", be, "BE")] {
        let path = dir.write(name, &bytes);
        let err = error_of(&path);
        assert_eq!(
            err,
            format!(
                "error: the file is UTF-16 text, not UTF-8\n --> {}:1:1\n  |\n1 | defaults {{\n  | ^ \
                 the file starts with a UTF-16 {order} byte-order mark\n  = help: a plan is UTF-8 \
                 text: save it again as UTF-8 (in Notepad: Save as, Encoding UTF-8; in \
                 PowerShell: `Out-File -Encoding utf8`)\n",
                path.display()
            )
        );
    }
    // An included file, too; the including plan's own lines are still checked.
    dir.write("common.mol", &le);
    let path = dir.write(
        "main.mol",
        b"include \"common.mol\"\nscenario t {\n  GET /\n}\n",
    );
    let err = error_of(&path);
    assert!(
        err.starts_with("error: the file is UTF-16 text, not UTF-8\n"),
        "{err}"
    );
    assert!(err.contains("= note: included from "), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}

#[test]
fn an_include_or_body_file_that_never_ends_is_refused() {
    let dir = Dir::new("include");
    let path = dir.write(
        "inc.mol",
        b"include \"/dev/zero\"\ndefaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  GET /\n}\n",
    );
    let err = error_of(&path);
    assert!(
        err.contains("cannot read included file `/dev/zero`: it is larger than 16 MiB"),
        "{err}"
    );
    let path = dir.write(
        "body.mol",
        b"defaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  POST /upload\n  file \"/dev/zero\"\n}\n",
    );
    let err = error_of(&path);
    assert!(
        err.contains("cannot read body file `/dev/zero`: it is larger than 64 MiB"),
        "{err}"
    );
}

#[test]
fn a_byte_order_mark_is_skipped_and_columns_stay_those_of_the_text() {
    let dir = Dir::new("bom");
    let path = dir.write(
        "bom.mol",
        b"\xEF\xBB\xBFdefaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  GET /\n}\n",
    );
    compile(&path, &CompileOptions::default()).expect("a plan with a BOM compiles");
    // An error on the first line is placed as an editor shows it (the mark has no column).
    let path = dir.write("bom-bad.mol", b"\xEF\xBB\xBFdefaultz {\n}\n");
    let err = error_of(&path);
    assert!(err.contains("bom-bad.mol:1:1"), "{err}");
    assert!(!err.contains('\u{feff}'), "{err}");
}

#[test]
fn named_pipes_are_refused_without_being_opened() {
    let dir = Dir::new("fifo");
    let fifo = dir.0.join("inc.mol");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "mkfifo (coreutils) makes the pipe"
    );
    // As the plan, as an include and as a body: opening one would wait for a writer.
    assert!(error_of(&fifo).contains("it is a named pipe (FIFO), not a file"));
    let path = dir.write(
        "top.mol",
        b"include \"inc.mol\"\nscenario s {\n  POST http://127.0.0.1:8080/\n  file \"inc.mol\"\n}\n",
    );
    let err = error_of(&path);
    assert!(
        err.contains("cannot read included file `inc.mol`: it is a named pipe (FIFO), not a file"),
        "{err}"
    );
    assert!(
        err.contains("cannot read body file `inc.mol`: it is a named pipe (FIFO), not a file"),
        "{err}"
    );
}

fn origins_of(plan: &str) -> (Vec<(bool, String, u16)>, bool) {
    let program = compile_source(
        "o.mol",
        plan,
        Path::new("."),
        &CompileOptions::with_env([("HOST", "api.example")]),
    )
    .unwrap();
    let origins = program
        .origins()
        .map(
            |PlanOrigin {
                 https, host, port, ..
             }| (https, host.to_string(), port),
        )
        .collect();
    (origins, program.has_run_time_origins())
}

#[test]
fn origins_lists_each_origin_written_in_the_plan_once() {
    let (origins, run_time) = origins_of(
        "defaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  GET /a\n  GET https://{{env.HOST}}/b\n  GET http://[::1]:9/c\n  GET https://api.example/d\n}\n",
    );
    assert_eq!(
        origins,
        vec![
            (false, "127.0.0.1".into(), 8080),
            (true, "api.example".into(), 443),
            (false, "::1".into(), 9),
        ]
    );
    assert!(!run_time);
    let (_, run_time) = origins_of(
        "defaults {\n  base http://127.0.0.1:8080\n}\nscenario s {\n  GET /json\n  capture u = jsonpath \"$.next\"\n  GET {{u}}\n}\n",
    );
    assert!(run_time);
}
