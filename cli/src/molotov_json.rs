//! The `molotov.json` file of Python molotov, read as it was written for the original:
//!
//! ```json
//! {"molotov": {"env": {"SERVER_URL": "http://..."},
//!              "requirements": "requirements.txt",
//!              "tests": {"big": {"duration": 10, "workers": 100, "scenario": "plan.mol"}}}}
//! ```
//!
//! This module knows the file's shape only (shared by `molotov --config` and `moloslave`);
//! what the options of a test mean is `config.rs`'s business.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use molotov_dsl::{ReadError, read_limited};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A `molotov.json` larger than this is refused (as a plan is): the file is a few options
/// written by people, and a bigger one (or an endless one such as `/dev/zero`, through a
/// repository's symbolic link, say) is the wrong file.
pub const MAX_FILE_BYTES: u64 = molotov_dsl::MAX_PLAN_BYTES;

/// What can be wrong with a `molotov.json` file. Each message names the file and says what is
/// valid.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read, or is not a file that can be (a named pipe, over
    /// [`MAX_FILE_BYTES`], endless as `/dev/zero`).
    #[error(
        "cannot read {}: {source}",
        molotov_core::printable::printable_path(path)
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
    /// Not UTF-8 text.
    #[error(
        "{}: not valid JSON: the file is not UTF-8 text (byte {offset})",
        molotov_core::printable::printable_path(path)
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Where the first invalid byte is (0-based).
        offset: usize,
    },
    /// A key given twice in one object: JSON readers keep one of the two (Python's `json`,
    /// like serde_json, the last), silently, so one of them is a mistake.
    #[error(
        "{}:{line}:{column}: the key {key:?} is given twice in the same object; keep one",
        molotov_core::printable::printable_path(path)
    )]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// 1-based line of the second one.
        line: usize,
        /// 1-based column (of its closing quote).
        column: usize,
        /// The key.
        key: String,
    },
    /// Not JSON.
    #[error(
        "{}:{line}:{column}: not valid JSON: {message}",
        molotov_core::printable::printable_path(path)
    )]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// JSON, but not shaped like a `molotov.json`.
    #[error("{}: {what}", molotov_core::printable::printable_path(path))]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is expected.
        what: String,
    },
    /// `--test NAME` names no test of the file.
    #[error(
        "{}: there is no test {name:?}; {}",
        molotov_core::printable::printable_path(path),
        list_tests(tests)
    )]
    UnknownTest {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The tests the file has.
        tests: Vec<String>,
    },
}

fn list_tests(tests: &[String]) -> String {
    if tests.is_empty() {
        "the file has no tests".to_string()
    } else {
        format!("its tests are: {}", tests.join(", "))
    }
}

/// A parsed `molotov.json`.
#[derive(Debug, Clone)]
pub struct MolotovJson {
    /// The file it came from.
    pub path: PathBuf,
    /// `molotov.env`: variables set before the plan is compiled.
    pub env: Vec<(String, String)>,
    /// `molotov.requirements`: a pip requirements file in the original; not needed here.
    pub requirements: Option<String>,
    /// `molotov.tests`, by name.
    pub tests: Map<String, Value>,
}

/// One test of the file, with the file-wide `env` and `requirements` merged in.
#[derive(Debug, Clone)]
pub struct Test {
    /// Its name.
    pub name: String,
    /// Its options, sorted by key, without `env` and `requirements`.
    pub options: Vec<(String, Value)>,
    /// The file's `env`, then the test's own (which wins for the same name).
    pub env: Vec<(String, String)>,
    /// The test's `requirements`, or the file's.
    pub requirements: Option<String>,
}

impl MolotovJson {
    /// Reads and checks `path`.
    /// Reads and checks `path`: a regular file (or anything that ends within
    /// [`MAX_FILE_BYTES`]; a named pipe is refused without being opened), UTF-8 text (a
    /// leading byte-order mark is skipped).
    pub fn read(path: &Path) -> Result<MolotovJson, FileError> {
        let bytes = read_limited(path, MAX_FILE_BYTES).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        MolotovJson::parse(path, &text)
    }

    /// Checks `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<MolotovJson, FileError> {
        let shape = |what: String| FileError::Shape {
            path: path.to_path_buf(),
            what,
        };
        // Editors on Windows start UTF-8 files with a byte-order mark; it is not JSON, and
        // not content either.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let json_error = |e: serde_json::Error| FileError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: char_column(text, e.line(), e.column()),
            message: {
                // serde_json's text ends with the position, which the message already has.
                let text = e.to_string();
                match text.rsplit_once(" at line ") {
                    Some((message, _)) => message.to_string(),
                    None => text,
                }
            },
        };
        // First the keys given twice, which a `Value` cannot tell (the last one wins).
        let duplicate = RefCell::new(None);
        let mut reader = serde_json::Deserializer::from_str(text);
        if let Err(e) = (NoDuplicateKeys { found: &duplicate })
            .deserialize(&mut reader)
            .and_then(|()| reader.end())
        {
            return Err(match duplicate.into_inner() {
                Some(key) => FileError::DuplicateKey {
                    path: path.to_path_buf(),
                    line: e.line(),
                    column: char_column(text, e.line(), e.column()),
                    key,
                },
                None => json_error(e),
            });
        }
        let value: Value = serde_json::from_str(text).map_err(json_error)?;
        let Value::Object(mut top) = value else {
            return Err(shape(format!(
                "expected an object {{\"molotov\": {{...}}}}, found {}",
                kind_of(&value)
            )));
        };
        let Some(molotov) = top.remove("molotov") else {
            return Err(shape(
                "no \"molotov\" key: the file must be {\"molotov\": {\"env\": {...}, \
                 \"requirements\": \"...\", \"tests\": {\"NAME\": {options}}}}"
                    .into(),
            ));
        };
        // As under "molotov": a key nothing reads is a typo more likely than a note.
        if let Some(other) = top.keys().next() {
            return Err(shape(format!(
                "unknown top-level key {other:?}; \"molotov\" is the only one"
            )));
        }
        let Value::Object(molotov) = molotov else {
            return Err(shape(format!(
                "\"molotov\" must be an object with \"tests\" (and optionally \"env\", \
                 \"requirements\"), found {}",
                kind_of(&molotov)
            )));
        };
        let mut env = Vec::new();
        let mut requirements = None;
        let mut tests = None;
        for (key, value) in molotov {
            match key.as_str() {
                "env" => env = parse_env(path, "molotov.env", &value)?,
                "requirements" => {
                    requirements = Some(parse_requirements(path, "molotov.requirements", &value)?)
                }
                "tests" => match value {
                    Value::Object(map) => {
                        for (name, options) in &map {
                            if !options.is_object() {
                                return Err(shape(format!(
                                    "test {name:?} must be an object of options, found {}",
                                    kind_of(options)
                                )));
                            }
                        }
                        tests = Some(map);
                    }
                    other => {
                        return Err(shape(format!(
                            "\"tests\" must be an object {{\"NAME\": {{options}}}}, found {}",
                            kind_of(&other)
                        )));
                    }
                },
                other => {
                    return Err(shape(format!(
                        "unknown key {other:?} under \"molotov\"; the valid keys are: env, \
                         requirements, tests"
                    )));
                }
            }
        }
        let tests = tests.ok_or_else(|| {
            shape("\"molotov\" has no \"tests\": {\"tests\": {\"NAME\": {options}}}".into())
        })?;
        Ok(MolotovJson {
            path: path.to_path_buf(),
            env,
            requirements,
            tests,
        })
    }

    /// The names of the tests.
    pub fn test_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tests.keys().cloned().collect();
        names.sort();
        names
    }

    /// The test `name`, or an error listing the tests.
    pub fn test(&self, name: &str) -> Result<Test, FileError> {
        let Some(Value::Object(options)) = self.tests.get(name) else {
            return Err(FileError::UnknownTest {
                path: self.path.clone(),
                name: name.to_string(),
                tests: self.test_names(),
            });
        };
        let mut env = self.env.clone();
        let mut requirements = self.requirements.clone();
        let mut rest = Vec::new();
        for (key, value) in options {
            match key.as_str() {
                "env" => {
                    for (k, v) in parse_env(&self.path, &format!("tests.{name}.env"), value)? {
                        env.retain(|(existing, _)| *existing != k);
                        env.push((k, v));
                    }
                }
                "requirements" => {
                    requirements = Some(parse_requirements(
                        &self.path,
                        &format!("tests.{name}.requirements"),
                        value,
                    )?)
                }
                _ => rest.push((key.clone(), value.clone())),
            }
        }
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Test {
            name: name.to_string(),
            options: rest,
            env,
            requirements,
        })
    }
}

/// Walks a JSON document and fails at the first key given twice in one object, putting
/// the key in `found` (the error itself carries the position).
struct NoDuplicateKeys<'a> {
    found: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for NoDuplicateKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(NoDuplicateKeys { found: self.found })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                let error = serde::de::Error::custom(format_args!("duplicate key {key:?}"));
                *self.found.borrow_mut() = Some(key);
                return Err(error);
            }
            map.next_value_seed(NoDuplicateKeys { found: self.found })?;
            seen.insert(key);
        }
        Ok(())
    }
}

/// The JSON type of `value`, for messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_env(path: &Path, at: &str, value: &Value) -> Result<Vec<(String, String)>, FileError> {
    let shape = |what: String| FileError::Shape {
        path: path.to_path_buf(),
        what,
    };
    let Value::Object(map) = value else {
        return Err(shape(format!(
            "{at} must be an object {{\"NAME\": \"value\"}}, found {}",
            kind_of(value)
        )));
    };
    let mut env = Vec::new();
    for (name, value) in map {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(shape(format!(
                "{at}: {name:?} is not a valid variable name (no '=', not empty)"
            )));
        }
        let Value::String(text) = value else {
            return Err(shape(format!(
                "{at}.{name} must be a string, found {} (write \"{}\")",
                kind_of(value),
                value.to_string().trim_matches('"')
            )));
        };
        if text.contains('\0') {
            return Err(shape(format!("{at}.{name} contains a NUL byte")));
        }
        env.push((name.clone(), text.clone()));
    }
    Ok(env)
}

fn parse_requirements(path: &Path, at: &str, value: &Value) -> Result<String, FileError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(FileError::Shape {
            path: path.to_path_buf(),
            what: format!(
                "{at} must be a string (a file name), found {}",
                kind_of(other)
            ),
        }),
    }
}

/// The note printed for `requirements`.
pub fn requirements_note(requirements: &str) -> String {
    format!(
        "molotov: note: \"requirements\": {requirements:?} is not needed and is ignored: \
         molotov plans are self-contained (no Python packages to install)"
    )
}

/// serde_json's column (bytes into the line) as a count of characters, as a plan's
/// `file:line:col` counts them: `€` before the error is one column, not three.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(text_line) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    let bytes = &text_line.as_bytes()[..byte_column.min(text_line.len())];
    // A character's first byte counts it (one cut inside it counts it too).
    let chars = bytes.iter().filter(|&&b| b & 0xc0 != 0x80).count();
    chars + byte_column.saturating_sub(text_line.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MolotovJson, FileError> {
        MolotovJson::parse(Path::new("m.json"), text)
    }

    #[test]
    fn the_original_format() {
        // The Python molotov repository's own test file.
        let file = parse(
            r#"{"molotov": {"tests": {
                "big": {"duration": 10, "env": {"SERVER_URL": "http://aserver.net"},
                        "exception": true, "processes": 10, "requirements": "requirements.txt",
                        "scenario": "molotov/tests/example.py", "workers": 100},
                "test": {"duration": 1, "exception": true, "scenario": "x.py"}},
                "env": {"SERVER_URL": "http://file-wide", "OTHER": "1"},
                "requirements": "top.txt"}}"#,
        )
        .unwrap();
        assert_eq!(file.test_names(), ["big", "test"]);
        let big = file.test("big").unwrap();
        assert_eq!(
            big.env,
            [
                ("OTHER".to_string(), "1".to_string()),
                ("SERVER_URL".to_string(), "http://aserver.net".to_string())
            ]
        );
        assert_eq!(big.requirements.as_deref(), Some("requirements.txt"));
        let keys: Vec<&str> = big.options.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["duration", "exception", "processes", "scenario", "workers"]
        );
        let test = file.test("test").unwrap();
        assert_eq!(test.requirements.as_deref(), Some("top.txt"));
        assert_eq!(test.env.len(), 2);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let file = parse("\u{feff}{\"molotov\": {\"tests\": {\"t\": {}}}}").unwrap();
        assert_eq!(file.test_names(), ["t"]);
    }

    #[test]
    fn only_a_bounded_file_is_read() {
        // Endless: refused after 16 MiB (it used to be read until memory ran out).
        let err = MolotovJson::read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read /dev/zero: it is larger than 16 MiB"
        );
        let dir = std::env::temp_dir().join(format!("molotov-json-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A named pipe: refused at once (opening it used to wait for a writer for ever).
        let fifo = dir.join("fifo.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = MolotovJson::read(&fifo).unwrap_err().to_string();
        assert!(
            err.ends_with("it is a named pipe (FIFO), not a file"),
            "{err}"
        );
        // A large file.
        let big = dir.join("big.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = MolotovJson::read(&big).unwrap_err().to_string();
        assert!(err.ends_with("it is larger than 16 MiB"), "{err}");
        // Not UTF-8.
        let latin1 = dir.join("latin1.json");
        std::fs::write(&latin1, b"{\"molotov\": {\"tests\": {\"caf\xe9\": {}}}}").unwrap();
        let err = MolotovJson::read(&latin1).unwrap_err().to_string();
        assert!(err.ends_with("not UTF-8 text (byte 27)"), "{err}");
        // A missing file.
        let err = MolotovJson::read(&dir.join("nope.json")).unwrap_err();
        assert!(
            matches!(&err, FileError::Read { source: ReadError::Io { source }, .. }
                if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_say_what_is_valid() {
        let cases: &[(&str, &str)] = &[
            ("{", "m.json:1:1: not valid JSON"),
            // Characters, not bytes: the `x` is the 57th character either way.
            (
                r#"{"molotov": {"tests": {"t": {"plan": "aaaa", "workers": x}}}}"#,
                "m.json:1:57: not valid JSON",
            ),
            (
                r#"{"molotov": {"tests": {"t": {"plan": "€€€€", "workers": x}}}}"#,
                "m.json:1:57: not valid JSON",
            ),
            ("[]", "expected an object {\"molotov\""),
            ("{}", "no \"molotov\" key"),
            // Like an unknown key under "molotov" (it was taken silently).
            (
                r#"{"molotov": {"tests": {}}, "other": 1}"#,
                "m.json: unknown top-level key \"other\"; \"molotov\" is the only one",
            ),
            (r#"{"molotov": 3}"#, "\"molotov\" must be an object"),
            (r#"{"molotov": {}}"#, "has no \"tests\""),
            (
                r#"{"molotov": {"tests": {}, "bogus": 1}}"#,
                "unknown key \"bogus\" under \"molotov\"; the valid keys are: env, requirements, tests",
            ),
            (
                r#"{"molotov": {"tests": []}}"#,
                "\"tests\" must be an object",
            ),
            (
                r#"{"molotov": {"tests": {"a": 1}}}"#,
                "test \"a\" must be an object of options, found a number",
            ),
            (
                r#"{"molotov": {"tests": {}, "env": {"X": 1}}}"#,
                "molotov.env.X must be a string, found a number (write \"1\")",
            ),
            (
                r#"{"molotov": {"tests": {}, "env": []}}"#,
                "molotov.env must be an object",
            ),
            (
                r#"{"molotov": {"tests": {}, "env": {"A=B": "x"}}}"#,
                "not a valid variable name",
            ),
            (
                r#"{"molotov": {"tests": {}, "requirements": ["a"]}}"#,
                "molotov.requirements must be a string",
            ),
        ];
        for &(text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}\n{err}");
        }
        let file =
            parse(r#"{"molotov": {"tests": {"b": {}, "a": {"env": {"X": true}}}}}"#).unwrap();
        // Both keys used to be taken silently, the last one winning.
        let twice: &[(&str, &str)] = &[
            (
                r#"{"molotov": {"tests": {"t": {"workers": 1, "workers": 2}}}}"#,
                "m.json:1:52: the key \"workers\" is given twice in the same object; keep one",
            ),
            (
                "{\"molotov\": {\"tests\": {\n  \"t\": {},\n  \"t\": {\"workers\": 2}}}}",
                "m.json:3:5: the key \"t\" is given twice",
            ),
            (
                r#"{"molotov": {"tests": {}}, "molotov": {"tests": {}}}"#,
                "the key \"molotov\" is given twice",
            ),
            (
                r#"{"molotov": {"tests": {"t": {"env": {"A": "1", "\u0041": "2"}}}}}"#,
                "the key \"A\" is given twice",
            ),
            (
                r#"{"molotov": {"tests": {"t": {"stages": [{"a": 1, "a": 2}]}}}}"#,
                "the key \"a\" is given twice",
            ),
            // Columns count characters, as a plan's do: `€€€€` moves nothing.
            (
                r#"{"molotov": {"tests": {"t": {"plan": "€€€€", "workers": 1, "workers": 2}}}}"#,
                "m.json:1:68: the key \"workers\" is given twice",
            ),
        ];
        for &(text, want) in twice {
            let err = parse(text).unwrap_err();
            assert!(
                matches!(err, FileError::DuplicateKey { .. }),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(want), "{text}\n{err}");
        }
        // The same key in different objects is fine.
        parse(r#"{"molotov": {"env": {"A": "1"}, "tests": {"t": {"env": {"A": "2"}}}}}"#).unwrap();
        assert_eq!(
            file.test("c").unwrap_err().to_string(),
            "m.json: there is no test \"c\"; its tests are: a, b"
        );
        assert!(
            file.test("a")
                .unwrap_err()
                .to_string()
                .contains("tests.a.env.X must be a string, found a boolean")
        );
        let empty = parse(r#"{"molotov": {"tests": {}}}"#).unwrap();
        assert!(
            empty
                .test("x")
                .unwrap_err()
                .to_string()
                .ends_with("the file has no tests")
        );
    }
}
