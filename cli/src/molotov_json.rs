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

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What can be wrong with a `molotov.json` file. Each message names the file and says what is
/// valid.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("{}:{line}:{column}: not valid JSON: {message}", path.display())]
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
    #[error("{}: {what}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is expected.
        what: String,
    },
    /// `--test NAME` names no test of the file.
    #[error("{}: there is no test {name:?}; {}", path.display(), list_tests(tests))]
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
    pub fn read(path: &Path) -> Result<MolotovJson, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        MolotovJson::parse(path, &text)
    }

    /// Checks `text`, the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<MolotovJson, FileError> {
        let shape = |what: String| FileError::Shape {
            path: path.to_path_buf(),
            what,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| FileError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: {
                // serde_json's text ends with the position, which the message already has.
                let text = e.to_string();
                match text.rsplit_once(" at line ") {
                    Some((message, _)) => message.to_string(),
                    None => text,
                }
            },
        })?;
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
    fn errors_say_what_is_valid() {
        let cases: &[(&str, &str)] = &[
            ("{", "m.json:1:1: not valid JSON"),
            ("[]", "expected an object {\"molotov\""),
            ("{}", "no \"molotov\" key"),
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
