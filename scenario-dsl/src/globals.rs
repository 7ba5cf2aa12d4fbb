//! [`Globals`]: the variables captured by the plan's `setup`, shared read-only by every worker.
//!
//! `setup` runs once per run in a short-lived process, so its results must cross a process
//! boundary: [`Globals::to_bytes`] / [`Globals::from_bytes`] use a small JSON document.

use serde_json::Value;

/// The values of the plan's global variables (what `setup` captured), by slot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Globals {
    pub(crate) values: Vec<Option<Value>>,
}

/// Why bytes could not be read back as [`Globals`].
#[derive(Debug, thiserror::Error)]
pub enum GlobalsError {
    #[error("globals are not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("globals have an unexpected shape: {0}")]
    Shape(&'static str),
}

const FORMAT: &str = "molotov-globals/1";

impl Globals {
    /// No globals (a plan without `setup`).
    pub fn empty() -> Self {
        Globals::default()
    }

    /// Number of global slots.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value of global slot `i`, if set.
    pub fn get(&self, i: usize) -> Option<&Value> {
        self.values.get(i).and_then(|v| v.as_ref())
    }

    /// Serializes for another process: `{"format": ..., "slots": [[value] | []]}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let slots: Vec<Value> = self
            .values
            .iter()
            .map(|v| match v {
                Some(v) => Value::Array(vec![v.clone()]),
                None => Value::Array(Vec::new()),
            })
            .collect();
        let doc = serde_json::json!({ "format": FORMAT, "slots": slots });
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GlobalsError> {
        let doc: Value = serde_json::from_slice(bytes)?;
        if doc.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(GlobalsError::Shape("missing or unknown `format`"));
        }
        let Some(Value::Array(slots)) = doc.get("slots") else {
            return Err(GlobalsError::Shape("`slots` is not a list"));
        };
        let mut values = Vec::with_capacity(slots.len());
        for s in slots {
            match s {
                Value::Array(a) if a.is_empty() => values.push(None),
                Value::Array(a) if a.len() == 1 => values.push(Some(a[0].clone())),
                _ => return Err(GlobalsError::Shape("a slot is not `[]` or `[value]`")),
            }
        }
        Ok(Globals { values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_unset_and_null_apart() {
        let g = Globals {
            values: vec![
                Some(json!("tok")),
                None,
                Some(Value::Null),
                Some(json!({"a": [1]})),
            ],
        };
        let back = Globals::from_bytes(&g.to_bytes()).unwrap();
        assert_eq!(back, g);
        assert_eq!(
            Globals::from_bytes(&Globals::empty().to_bytes()).unwrap(),
            Globals::empty()
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"nope"[..],
            b"{}",
            b"{\"format\":\"molotov-globals/1\",\"slots\":[1]}",
        ] {
            assert!(Globals::from_bytes(bad).is_err());
        }
    }
}
