//! Reading the values at a request's JSON paths out of a response body, without building
//! the rest of it.
//!
//! A check or capture with a simple singular path (`$.items[0].id`, compiled to
//! [`PathStep`]s) needs one value of the document. Parsing the whole body into a
//! `serde_json::Value` allocates a node for every member, string and list of it: 227,000
//! user-space instructions per request for a 2.5 KB body of 20 items, against ~3,000 for the
//! request itself. [`extract`] reads the document once and keeps only the values at the
//! paths asked for, the last of duplicate keys winning, as in a `Value`.
//!
//! It first asks [`crate::json_scan`], a table-driven scanner that builds nothing and says
//! where the values are, then parses only those bytes: ~8 user-space instructions per byte
//! where serde's reading below costs ~37. The scanner answers only for a body it is certain
//! serde_json reads as a `Value`. Any other body (not JSON, or one the scanner is unsure of)
//! is read again with serde_json's own parser, with the same checks as a full parse: every
//! member but the values at the paths is read by [`Skip`], which builds nothing, so a
//! malformed body fails with the same error at the same place.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::code::PathStep;
use crate::json_scan::{self, Ranges, Scan};

/// Whether [`extract`] can answer for `steps`: a negative index counts from the end of a
/// list, which a single pass only knows at its end (those paths walk a parsed `Value`).
pub(crate) fn extractable(steps: &[PathStep]) -> bool {
    steps
        .iter()
        .all(|step| !matches!(step, PathStep::Index(i) if *i < 0))
}

/// The most paths [`extract`] reads in one pass.
pub(crate) const MAX_PATHS: usize = 64;

/// Puts in `found` the values at `paths` in the JSON document `body`, in their order (None:
/// the path finds nothing), or returns the error that parsing `body` as a `Value` would
/// give. No path has a negative index ([`extractable`]), and there are at most
/// [`MAX_PATHS`]. (`found` is the caller's, so that its room is kept between responses;
/// what it holds is replaced, but a scalar equal to the new value at its place is kept.)
pub(crate) fn extract(
    body: &[u8],
    paths: &[Box<[PathStep]>],
    found: &mut Vec<Option<Value>>,
) -> Result<(), serde_json::Error> {
    debug_assert!(paths.len() <= MAX_PATHS && paths.iter().all(|steps| extractable(steps)));
    if let Scan::Valid(ranges) = json_scan::scan(body, paths, &mut Ranges::new()) {
        found.truncate(paths.len());
        found.resize(paths.len(), None);
        // Each value found is JSON on its own (the scanner read it as such). A scalar
        // written as the one already in its place (left by an earlier response) is kept:
        // a load test's responses often repeat, and nothing is built for it.
        let built = found.iter_mut().enumerate().try_for_each(|(i, slot)| {
            match ranges.get(i) {
                Some(range) => {
                    let text = &body[range];
                    if !slot
                        .as_ref()
                        .is_some_and(|v| json_scan::is_built_from(v, text))
                    {
                        *slot = Some(json_scan::build(text)?);
                    }
                }
                None => *slot = None,
            }
            Ok::<(), serde_json::Error>(())
        });
        if built.is_ok() {
            #[cfg(test)]
            tests::READ_BY.set(Some(tests::ReadBy::Scanner));
            return Ok(());
        }
        debug_assert!(false, "a value the scanner found does not parse");
    }
    found.clear();
    found.resize(paths.len(), None);
    #[cfg(test)]
    tests::READ_BY.set(Some(tests::ReadBy::Serde));
    extract_by_serde(body, paths, found)
}

/// [`extract`] by serde_json's parser alone (`found` holds None for each path): the values,
/// or the error a full parse gives.
fn extract_by_serde(
    body: &[u8],
    paths: &[Box<[PathStep]>],
    found: &mut [Option<Value>],
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    AtPaths {
        paths,
        active: Active::all(paths.len()),
        depth: 0,
        found,
    }
    .deserialize(&mut de)?;
    de.end()
}

/// The paths still followed into the value being read, by their index in the paths asked
/// for (all of them have taken as many steps as the value is deep).
#[derive(Clone, Copy)]
struct Active(u64);

impl Active {
    fn all(n: usize) -> Active {
        Active(if n >= 64 { u64::MAX } else { (1 << n) - 1 })
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The one path, if there is exactly one.
    fn only(self) -> Option<usize> {
        (self.0.count_ones() == 1).then(|| self.0.trailing_zeros() as usize)
    }

    fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                i
            })
        })
    }

    /// Those whose step at `depth` is `take`.
    fn taking(
        self,
        paths: &[Box<[PathStep]>],
        depth: usize,
        take: impl Fn(&PathStep) -> bool,
    ) -> Active {
        let mut next = 0;
        for i in self.iter() {
            if paths[i].get(depth).is_some_and(&take) {
                next |= 1 << i;
            }
        }
        Active(next)
    }
}

/// A visitor's methods for the scalars (booleans, numbers, strings, null): each one has been
/// read and checked by the parser when it is visited, and nothing of it is kept.
macro_rules! scalars_hold_nothing {
    () => {
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
    };
}

/// Reads a value `depth` deep and keeps, in `found`, what is at the `active` paths in it.
struct AtPaths<'a> {
    paths: &'a [Box<[PathStep]>],
    active: Active,
    depth: usize,
    found: &'a mut [Option<Value>],
}

impl AtPaths<'_> {
    /// The same paths, for a value one deeper.
    fn inner(&mut self, active: Active) -> AtPaths<'_> {
        AtPaths {
            paths: self.paths,
            active,
            depth: self.depth + 1,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for AtPaths<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        let depth = self.depth;
        if self.active.iter().any(|i| self.paths[i].len() == depth) {
            // A path ends here: this value is kept whole, and the paths that go on into it
            // are walked in it.
            let value: Value = serde::Deserialize::deserialize(de)?;
            if let Some(only) = self.active.only() {
                // The one path ends here: the value is its, not a copy.
                self.found[only] = Some(value);
                return Ok(());
            }
            for i in self.active.iter() {
                self.found[i] = crate::render::walk(&value, &self.paths[i][depth..]).cloned();
            }
            return Ok(());
        }
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AtPaths<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    // A value that is not a list or an object: the paths find nothing in it.
    scalars_hold_nothing!();

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0i64;
        loop {
            let next = self.active.taking(
                self.paths,
                self.depth,
                |step| matches!(step, PathStep::Index(i) if *i == index),
            );
            let more = if next.is_empty() {
                seq.next_element_seed(Skip)?.is_some()
            } else {
                seq.next_element_seed(self.inner(next))?.is_some()
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let key_seed = |this: &Self| KeyedBy {
            paths: this.paths,
            active: this.active,
            depth: this.depth,
        };
        while let Some(next) = map.next_key_seed(key_seed(&self))? {
            if next.is_empty() {
                map.next_value_seed(Skip)?;
                continue;
            }
            // A later duplicate of the key replaces an earlier one, as in a `Value`.
            for i in next.iter() {
                self.found[i] = None;
            }
            map.next_value_seed(self.inner(next))?;
        }
        Ok(())
    }
}

/// Reads a value and keeps nothing of it. Unlike serde's `IgnoredAny`, which serde_json
/// reads with a laxer scanner (it takes invalid UTF-8 and lone surrogates in strings, and
/// numbers beyond `f64`'s range, and nests without limit), every string, number and nesting
/// is read as a `Value` would read it, so the same bodies fail, with the same error, at
/// the same place; nothing is allocated (a string with no escape is looked at where it is).
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    scalars_hold_nothing!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// Reads an object's key `depth` deep: the active paths whose next step it is.
struct KeyedBy<'a> {
    paths: &'a [Box<[PathStep]>],
    active: Active,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for KeyedBy<'_> {
    type Value = Active;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Active, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyedBy<'_> {
    type Value = Active;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Active, E> {
        Ok(self.active.taking(
            self.paths,
            self.depth,
            |step| matches!(step, PathStep::Key(k) if **k == *key),
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::json_scan::tests::{Rng, steps};

    /// How [`extract`](super::extract) read a body.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum ReadBy {
        /// The scanner answered: the body is JSON.
        Scanner,
        /// serde_json's parser read it (the scanner was not sure, or the body is not JSON).
        Serde,
    }

    thread_local! {
        /// How this thread's last [`extract`](super::extract) read its body.
        pub(crate) static READ_BY: Cell<Option<ReadBy>> = const { Cell::new(None) };
    }

    /// `extract`, returning what it found, and how it read the body.
    fn extract_by(
        body: &[u8],
        paths: &[Box<[PathStep]>],
    ) -> (Result<Vec<Option<Value>>, serde_json::Error>, ReadBy) {
        let mut found = vec![Some(Value::from("left over"))];
        READ_BY.set(None);
        let got = super::extract(body, paths, &mut found).map(|()| found);
        (got, READ_BY.take().expect("extract says how it read"))
    }

    type Answer = Result<Option<Value>, String>;

    /// What a full parse and a walk of the `Value` give: the answer `extract` must match,
    /// error messages included.
    fn by_value(body: &[u8], path: &[PathStep]) -> Answer {
        let root: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(crate::render::walk(&root, path).cloned())
    }

    /// The nesting limit the doc states: 127 lists and objects open at once are read, the
    /// 128th is refused, by `extract` (whichever way it reads) and a whole parse alike.
    #[test]
    fn both_readers_take_127_levels_and_refuse_128() {
        let lists = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let in_object = |n: usize| format!("{{\"a\":{}}}", lists(n - 1));
        for (levels, ok) in [(126, true), (127, true), (128, false), (129, false)] {
            for body in [lists(levels), in_object(levels)] {
                let whole = serde_json::from_slice::<Value>(body.as_bytes());
                assert_eq!(whole.is_ok(), ok, "whole parse, {levels} levels: {whole:?}");
                let (got, _) = extract_by(body.as_bytes(), &[steps(&["a"])]);
                assert_eq!(got.is_ok(), ok, "extract, {levels} levels: {got:?}");
                if let Err(e) = got {
                    assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
                }
            }
        }
    }

    #[test]
    fn extract_answers_as_a_full_parse_does() {
        let deep = format!(
            r#"{{"deep":{}{},"ok":1}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let docs: &[&[u8]] = &[
            br#"{"ok":true}"#,
            br#"{"a":{"b":[10,{"c":"x"},[1,2]]},"d":null,"e":1.5e3}"#,
            br#"{"a":1,"a":{"b":2}}"#,
            br#"{"a":{"b":1,"c":3},"a":{"c":2}}"#,
            br#"{"a":{"b":2},"a":3}"#,
            r#"{"k\"q":1,"\u00e9":2,"é":3,"":4}"#.as_bytes(),
            br#"[{"id":1},{"id":2},{"id":3}]"#,
            br#" [ ] "#,
            br#"{}"#,
            br#""text""#,
            br#"-12"#,
            br#"18446744073709551615"#,
            br#"{"big":123456789012345678901234567890,"neg":-9223372036854775808}"#,
            br#"{"s":"a\nb\u0041\ud83d\ude00"}"#,
            br#"{"a":-0.0e-999999,"ok":true}"#,
            br#"{"a":1e999,"ok":true}"#,
            // Malformed: the same error as a full parse, wherever the path is.
            br#"{"ok":true"#,
            br#"{"ok":true}x"#,
            br#"{"ok":true,}"#,
            br#"{"a":[1,2,]}"#,
            br#"{"a":"\q"}"#,
            br#"{"a":1 "b":2}"#,
            br#"{"a":tru}"#,
            b"{\"a\":\"\x00\"}",
            br#""#,
            br#"nul"#,
            // What serde's `IgnoredAny` would take: invalid UTF-8, lone surrogates, nesting
            // beyond 127 levels.
            b"{\"a\":\"\xff\",\"ok\":true}",
            b"{\"\xff\":1,\"ok\":true}",
            br#"{"a":"\ud800","ok":true}"#,
            br#"{"a":"\udc00x","ok":true}"#,
            deep.as_bytes(),
        ];
        let paths: &[&[&str]] = &[
            &[],
            &["ok"],
            &["a"],
            &["a", "b"],
            &["a", "b", "0"],
            &["a", "b", "1", "c"],
            &["a", "b", "2", "1"],
            &["a", "b", "3"],
            &["a", "b", "c"],
            &["a", "c"],
            &["a", "0"],
            &["0"],
            &["2", "id"],
            &["3", "id"],
            &["0", "id", "x"],
            &["d"],
            &["d", "x"],
            &["e"],
            &["k\"q"],
            &["é"],
            &[""],
            &["s"],
            &["big"],
            &["neg"],
            &["missing"],
        ];
        let paths: Vec<Box<[PathStep]>> = paths.iter().map(|p| steps(p)).collect();
        let mut compared = 0;
        // Valid documents the scanner leaves to serde: surrogate escapes (serde reads them;
        // the scanner does not reproduce its rules).
        let unsure: &[&[u8]] = &[br#"{"s":"a\nb\u0041\ud83d\ude00"}"#];
        let mut scanned = 0;
        for &doc in docs {
            let text = String::from_utf8_lossy(doc);
            // Every valid document is read by the scanner (but the one above); the others
            // by serde, which gives the error.
            let way = if by_value(doc, &[]).is_ok() && !unsure.contains(&doc) {
                ReadBy::Scanner
            } else {
                ReadBy::Serde
            };
            // Each path alone, then all of them in one pass.
            for path in &paths {
                let want = by_value(doc, path);
                let (got, by) = extract_by(doc, std::slice::from_ref(path));
                let got = got
                    .map(|mut found| found.remove(0))
                    .map_err(|e| e.to_string());
                assert_eq!(got, want, "{text} at {path:?}");
                assert_eq!(by, way, "{text} at {path:?}");
                compared += 1;
            }
            let (found, by) = extract_by(doc, &paths);
            let found = found.map_err(|e| e.to_string());
            assert_eq!(by, way, "{text} at all paths");
            scanned += usize::from(by == ReadBy::Scanner);
            for (i, path) in paths.iter().enumerate() {
                let want = by_value(doc, path);
                let got = found.clone().map(|found| found[i].clone());
                assert_eq!(got, want, "{text} at {path:?} among all");
            }
        }
        assert_eq!(compared, docs.len() * paths.len());
        assert_eq!(scanned, docs.len() - 15 - unsure.len());
        // The last documents are refused, not read both ways alike by chance.
        for doc in &docs[docs.len() - 15..] {
            assert!(
                by_value(doc, &[]).is_err(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    /// The shape of a generated document: what paths can find in it.
    enum Shape {
        Scalar,
        List(Vec<Shape>),
        /// The members' keys (decoded) and values.
        Object(Vec<(String, Shape)>),
    }

    /// Writes random JSON documents: nested lists and objects (keys repeated, escaped or
    /// not), strings with escapes and multibyte UTF-8, numbers of every form (some beyond
    /// what the scanner reads), now and then whitespace, or a nesting too deep.
    struct Generator {
        rng: Rng,
        text: String,
        /// Values still to write in this document (then only scalars).
        budget: usize,
    }

    impl Generator {
        const KEYS: &[&str] = &[
            "a", "b", "id", "items", "x", "é", "a\"b", "", "k\\", "ключ", "😀", "a/b", "t\tb",
            "n\0",
        ];
        const CHARS: &[char] = &[
            'a', 'b', 'z', ' ', '"', '\\', '/', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€',
            '😀', 'ж',
        ];

        fn below(&mut self, n: usize) -> usize {
            self.rng.below(n)
        }

        fn ws(&mut self) {
            let ws = match self.below(16) {
                0 => " ",
                1 => "\n  ",
                2 => "\t",
                3 => "\r\n",
                _ => "",
            };
            self.text.push_str(ws);
        }

        /// `s` as a JSON string, some characters escaped that need not be.
        fn string(&mut self, s: &str) {
            self.text.push('"');
            for c in s.chars() {
                let escape = self.below(8) == 0;
                match c {
                    '"' => self.text.push_str("\\\""),
                    '\\' => self.text.push_str("\\\\"),
                    '\n' if !escape => self.text.push_str("\\n"),
                    '\t' if !escape => self.text.push_str("\\t"),
                    '/' if escape => self.text.push_str("\\/"),
                    c if c < ' ' || escape => {
                        let mut units = [0; 2];
                        for unit in c.encode_utf16(&mut units) {
                            let hex = format!("\\u{unit:04x}");
                            if self.below(2) == 0 {
                                self.text
                                    .push_str(&hex.to_uppercase().replace("\\U", "\\u"));
                            } else {
                                self.text.push_str(&hex);
                            }
                        }
                    }
                    c => self.text.push(c),
                }
            }
            self.text.push('"');
        }

        fn number(&mut self) {
            let n = match self.below(14) {
                0 | 1 => self.below(1000).to_string(),
                2 => format!("-{}", self.below(100_000)),
                3 => "0".into(),
                4 => "-0".into(),
                5 => format!("{}.{}", self.below(100), self.below(1000)),
                6 => format!("{}e{}", 1 + self.below(9), self.below(700) as i64 - 350),
                7 => format!(
                    "-{}.{}E+{}",
                    self.below(10),
                    self.below(100),
                    self.below(300)
                ),
                8 => [
                    "18446744073709551615",
                    "-9223372036854775808",
                    "18446744073709551616",
                ][self.below(3)]
                .into(),
                9 => format!("1{}", "0".repeat(self.below(330))),
                10 => ["1e281", "1e309", "-0.0e-999999", "1e-400", "0.5e0", "2E-2"][self.below(6)]
                    .into(),
                _ => (self.below(20)).to_string(),
            };
            self.text.push_str(&n);
        }

        fn value(&mut self, depth: usize) -> Shape {
            self.ws();
            let container = self.budget > 0 && depth < 6;
            self.budget = self.budget.saturating_sub(1);
            let shape = match self.below(if container { 8 } else { 4 }) {
                0 => {
                    let len = if self.below(4) == 0 {
                        16 + self.below(40)
                    } else {
                        self.below(12)
                    };
                    let s: String = (0..len)
                        .map(|_| Self::CHARS[self.below(Self::CHARS.len())])
                        .collect();
                    self.string(&s);
                    Shape::Scalar
                }
                1 => {
                    self.number();
                    Shape::Scalar
                }
                2 => {
                    let literal = ["true", "false", "null"][self.below(3)];
                    self.text.push_str(literal);
                    Shape::Scalar
                }
                3 if self.below(50) == 0 => {
                    // Nested around the scanner's limit (100) and serde's (127 levels).
                    let n = 90 + self.below(45);
                    let object = self.below(2) == 0;
                    let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
                    self.text.push_str(&open.repeat(n));
                    self.number();
                    self.text.push_str(&close.repeat(n));
                    Shape::Scalar
                }
                3 => {
                    let key = Self::KEYS[self.below(Self::KEYS.len())];
                    self.string(key);
                    Shape::Scalar
                }
                4..=5 => {
                    self.text.push('{');
                    let mut members = Vec::new();
                    for i in 0..self.below(6) {
                        if i > 0 {
                            self.ws();
                            self.text.push(',');
                        }
                        self.ws();
                        // Mostly the first few keys, so that some repeat.
                        let among = 6 + self.below(Self::KEYS.len() - 5);
                        let key = Self::KEYS[self.below(among)];
                        self.string(key);
                        self.ws();
                        self.text.push(':');
                        let value = self.value(depth + 1);
                        members.push((key.to_string(), value));
                    }
                    self.ws();
                    self.text.push('}');
                    Shape::Object(members)
                }
                _ => {
                    self.text.push('[');
                    let mut elements = Vec::new();
                    for i in 0..self.below(6) {
                        if i > 0 {
                            self.text.push(',');
                        }
                        elements.push(self.value(depth + 1));
                    }
                    self.ws();
                    self.text.push(']');
                    Shape::List(elements)
                }
            };
            self.ws();
            shape
        }

        /// A path through `shape`: mostly to what is there, now and then to what is not.
        fn path(&mut self, mut shape: &Shape) -> Box<[PathStep]> {
            let mut steps = Vec::new();
            while steps.len() < 6 && self.below(5) != 0 {
                match shape {
                    Shape::Object(members) if !members.is_empty() && self.below(8) != 0 => {
                        let (key, value) = &members[self.below(members.len())];
                        steps.push(PathStep::Key(key.as_str().into()));
                        shape = value;
                    }
                    Shape::List(elements) => {
                        let index = self.below(elements.len() + 1);
                        steps.push(PathStep::Index(index as i64));
                        match elements.get(index) {
                            Some(element) => shape = element,
                            None => break,
                        }
                    }
                    _ => {
                        // Into a scalar, or a key or index that is not there.
                        steps.push(if self.below(2) == 0 {
                            PathStep::Key("a".into())
                        } else {
                            PathStep::Index(0)
                        });
                        break;
                    }
                }
            }
            steps.into()
        }

        /// Changes a few bytes of `doc`: most changes make it invalid, some do not.
        fn mutate(&mut self, doc: &mut Vec<u8>) {
            const BYTES: &[u8] = b"\"\\{}[],:0-.e u\na\x00\x1f\x80\xff\xc3";
            for _ in 0..1 + self.below(3) {
                if doc.is_empty() {
                    return;
                }
                let at = self.below(doc.len());
                let byte = if self.below(4) == 0 {
                    self.rng.next() as u8
                } else {
                    BYTES[self.below(BYTES.len())]
                };
                match self.below(5) {
                    0 | 1 => doc[at] = byte,
                    2 => {
                        doc.remove(at);
                    }
                    3 => doc.insert(at, byte),
                    _ => doc.truncate(at),
                }
            }
        }
    }

    /// Random documents, and random changes of them, read at random paths drawn from their
    /// keys and indexes: `extract` answers as a full parse and a walk do, errors included;
    /// and wherever the scanner answers, serde reads the document.
    #[test]
    fn random_documents_read_as_a_full_parse_does() {
        let mut generator = Generator {
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            text: String::new(),
            budget: 0,
        };
        // (read by the scanner, by serde) for documents as written, then changed.
        let mut counts = [[0usize; 2]; 2];
        for case in 0..10_000 {
            generator.text.clear();
            generator.budget = generator.below(40);
            let shape = generator.value(0);
            let paths: Vec<Box<[PathStep]>> = (0..generator.below(5))
                .map(|_| generator.path(&shape))
                .collect();
            let written = generator.text.clone().into_bytes();
            let mut changed = written.clone();
            generator.mutate(&mut changed);
            for (changes, doc) in [written, changed].iter().enumerate() {
                let text = String::from_utf8_lossy(doc);
                let parsed = serde_json::from_slice::<Value>(doc);
                let want = parsed
                    .as_ref()
                    .map(|root| {
                        paths
                            .iter()
                            .map(|path| crate::render::walk(root, path).cloned())
                            .collect::<Vec<_>>()
                    })
                    .map_err(|e| e.to_string());
                let (got, by) = extract_by(doc, &paths);
                let got = got.map_err(|e| e.to_string());
                assert_eq!(got, want, "case {case}: {text:?} at {paths:?}");
                // The scanner's answer: `Valid` only where serde reads the document.
                let mut ranges = Ranges::new();
                let valid = matches!(json_scan::scan(doc, &paths, &mut ranges), Scan::Valid(_));
                assert!(
                    !valid || parsed.is_ok(),
                    "case {case}: {text:?}: {parsed:?}"
                );
                assert_eq!(by == ReadBy::Scanner, valid, "case {case}: {text:?}");
                counts[changes][usize::from(!valid)] += 1;
            }
        }
        // Both ways were taken, for the documents as written and as changed.
        let [
            [written_scanned, written_left],
            [changed_scanned, changed_left],
        ] = counts;
        assert!(written_scanned > 8_000, "{counts:?}");
        assert!(written_left > 100, "{counts:?}");
        assert!(changed_scanned > 300, "{counts:?}");
        assert!(changed_left > 5_000, "{counts:?}");
    }

    /// Reads a body many times, for callgrind (`SCAN_RUNS=n`, `SCAN_BODY=items` or `ok`,
    /// `SCAN_WAY=scanner` or `serde`; `cargo test --release -p molotov-dsl --lib
    /// extract_cost -- --ignored`, then the difference of two counts over the difference
    /// of runs): the bodies and paths of `benches/plans/json-items.mol` and `plan.mol`.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn extract_cost() {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let (body, paths): (&[u8], Vec<Box<[PathStep]>>) = match var("SCAN_BODY").as_str() {
            "ok" => (br#"{"ok":true}"#, vec![steps(&["ok"]), steps(&["ok"])]),
            _ => (
                include_bytes!("../../benches/plans/items.json"),
                vec![
                    steps(&["items", "3", "stock", "count"]),
                    steps(&["items", "0", "id"]),
                ],
            ),
        };
        let serde = var("SCAN_WAY") == "serde";
        let runs: usize = var("SCAN_RUNS").parse().unwrap_or(1000);
        let mut found = Vec::with_capacity(paths.len());
        for _ in 0..runs {
            let body = std::hint::black_box(body);
            if serde {
                found.clear();
                found.resize(paths.len(), None);
                extract_by_serde(body, &paths, &mut found).unwrap();
            } else {
                super::extract(body, &paths, &mut found).unwrap();
            }
            std::hint::black_box(&found);
        }
    }

    #[test]
    fn up_to_64_paths_in_one_pass() {
        let doc = format!(
            "{{{}}}",
            (0..70)
                .map(|i| format!(r#""k{i}":[{i}]"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        let paths: Vec<Box<[PathStep]>> = (0..MAX_PATHS)
            .map(|i| {
                [
                    PathStep::Key(format!("k{}", i + 6).into()),
                    PathStep::Index(0),
                ]
                .into()
            })
            .collect();
        let (found, by) = extract_by(doc.as_bytes(), &paths);
        let want: Vec<Option<Value>> = (0..MAX_PATHS).map(|i| Some(Value::from(i + 6))).collect();
        assert_eq!(found.unwrap(), want);
        assert_eq!(by, ReadBy::Scanner);
    }

    #[test]
    fn negative_indices_are_left_to_a_parsed_value() {
        assert!(extractable(&steps(&["a", "0", "b"])));
        assert!(!extractable(&steps(&["a", "-1"])));
    }
}
