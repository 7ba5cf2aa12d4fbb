//! Reading the values at a request's JSON paths out of a response body, without building
//! the rest of it.
//!
//! A check or capture with a simple singular path (`$.items[0].id`, compiled to
//! [`PathStep`]s) needs one value of the document. Parsing the whole body into a
//! `serde_json::Value` allocates a node for every member, string and list of it: 227,000
//! user-space instructions per request for a 2.5 KB body of 20 items, against ~3,000 for the
//! request itself. [`extract`] reads the document once, with the same parser and the same
//! checks, and keeps only the values at the paths asked for: every other member is read by
//! [`Skip`], which builds nothing. So a malformed body fails with the same error at the same
//! place, and the last of duplicate keys wins, as in a `Value`.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::code::PathStep;

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
/// [`MAX_PATHS`]. (`found` is the caller's, so that its room is kept between responses.)
pub(crate) fn extract(
    body: &[u8],
    paths: &[Box<[PathStep]>],
    found: &mut Vec<Option<Value>>,
) -> Result<(), serde_json::Error> {
    debug_assert!(paths.len() <= MAX_PATHS && paths.iter().all(|steps| extractable(steps)));
    found.clear();
    found.resize(paths.len(), None);
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
mod tests {
    use super::*;

    fn steps(path: &[&str]) -> Box<[PathStep]> {
        path.iter()
            .map(|s| match s.parse::<i64>() {
                Ok(i) => PathStep::Index(i),
                Err(_) => PathStep::Key((*s).into()),
            })
            .collect()
    }

    /// `extract`, returning what it found.
    fn extract(
        body: &[u8],
        paths: &[Box<[PathStep]>],
    ) -> Result<Vec<Option<Value>>, serde_json::Error> {
        let mut found = vec![Some(Value::from("left over"))];
        super::extract(body, paths, &mut found).map(|()| found)
    }

    type Answer = Result<Option<Value>, String>;

    /// What a full parse and a walk of the `Value` give: the answer `extract` must match,
    /// error messages included.
    fn by_value(body: &[u8], path: &[PathStep]) -> Answer {
        let root: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(crate::render::walk(&root, path).cloned())
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
            // What serde's `IgnoredAny` would take: invalid UTF-8, lone surrogates, numbers
            // out of range, nesting beyond 128.
            b"{\"a\":\"\xff\",\"ok\":true}",
            b"{\"\xff\":1,\"ok\":true}",
            br#"{"a":"\ud800","ok":true}"#,
            br#"{"a":"\udc00x","ok":true}"#,
            br#"{"a":1e999,"ok":true}"#,
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
        for &doc in docs {
            let text = String::from_utf8_lossy(doc);
            // Each path alone, then all of them in one pass.
            for path in &paths {
                let want = by_value(doc, path);
                let got = extract(doc, std::slice::from_ref(path))
                    .map(|mut found| found.remove(0))
                    .map_err(|e| e.to_string());
                assert_eq!(got, want, "{text} at {path:?}");
                compared += 1;
            }
            let found = extract(doc, &paths).map_err(|e| e.to_string());
            for (i, path) in paths.iter().enumerate() {
                let want = by_value(doc, path);
                let got = found.clone().map(|found| found[i].clone());
                assert_eq!(got, want, "{text} at {path:?} among all");
            }
        }
        assert_eq!(compared, docs.len() * paths.len());
        // The last documents are refused, not read both ways alike by chance.
        for doc in &docs[docs.len() - 16..] {
            assert!(
                by_value(doc, &[]).is_err(),
                "{}",
                String::from_utf8_lossy(doc)
            );
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
        let found = extract(doc.as_bytes(), &paths).unwrap();
        let want: Vec<Option<Value>> = (0..MAX_PATHS).map(|i| Some(Value::from(i + 6))).collect();
        assert_eq!(found, want);
    }

    #[test]
    fn negative_indices_are_left_to_a_parsed_value() {
        assert!(extractable(&steps(&["a", "0", "b"])));
        assert!(!extractable(&steps(&["a", "-1"])));
    }
}
