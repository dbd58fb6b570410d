//! JSON patch (RFC 6902), `application/json-patch+json`, with the semantics of Go's
//! `gopkg.in/evanphx/json-patch.v4` that kube-apiserver uses and clients rely on:
//!
//! * `test` of a path whose parent exists but whose key is missing compares as `null` (kube-rs's
//!   `finalizer()` tests `/metadata/finalizers == null` on objects without finalizers);
//! * `remove` and `replace` of a missing key fail;
//! * the array index `-` appends (for `add`, `move` and `copy` targets); negative indices count from the end;
//! * numbers compare by value (`1` equals `1.0`), as Go decodes them to `float64`.
//!
//! The patch applies atomically: on any failure the document is left as it was.

use serde_json::{Map, Value};

/// The most operations one patch may carry (kube's `maxJSONPatchOperations`).
pub const MAX_OPERATIONS: usize = 10_000;

/// Why a JSON patch was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonPatchError {
    /// The patch document is not a JSON array of operation objects (kube: 400 BadRequest).
    Malformed(String),
    /// More than [`MAX_OPERATIONS`] operations (kube: 413).
    TooManyOperations(usize),
    /// An operation could not be applied: a failed `test`, a missing path, a bad index (kube: 422).
    Failed(String),
}

impl std::fmt::Display for JsonPatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(m) | Self::Failed(m) => f.write_str(m),
            Self::TooManyOperations(n) => write!(
                f,
                "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {n}"
            ),
        }
    }
}

/// One decoded operation.
#[derive(Debug, Clone)]
struct Operation<'a> {
    op: &'a str,
    path: Option<&'a str>,
    from: Option<&'a str>,
    value: Option<&'a Value>,
}

/// Checks that `patch` is a JSON patch document (an array of objects, each with a string `op`) without
/// applying it.
///
/// # Errors
/// [`JsonPatchError::Malformed`] or [`JsonPatchError::TooManyOperations`].
pub fn validate(patch: &Value) -> Result<(), JsonPatchError> {
    decode(patch).map(|_| ())
}

fn decode(patch: &Value) -> Result<Vec<Operation<'_>>, JsonPatchError> {
    let Value::Array(items) = patch else {
        return Err(JsonPatchError::Malformed(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".to_owned(),
        ));
    };
    if items.len() > MAX_OPERATIONS {
        return Err(JsonPatchError::TooManyOperations(items.len()));
    }
    items
        .iter()
        .map(|item| {
            let Value::Object(map) = item else {
                return Err(JsonPatchError::Malformed(format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                    type_name(item)
                )));
            };
            let string = |key: &str| -> Result<Option<&str>, JsonPatchError> {
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.as_str())),
                    Some(other) => Err(JsonPatchError::Malformed(format!(
                        "json: cannot unmarshal {} into Go value of type string ({key})",
                        type_name(other)
                    ))),
                }
            };
            Ok(Operation {
                op: string("op")?.unwrap_or_default(),
                path: string("path")?,
                from: string("from")?,
                value: map.get("value"),
            })
        })
        .collect()
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies the JSON patch `patch` to `doc`. On error `doc` is unchanged.
///
/// # Errors
/// [`JsonPatchError::Malformed`] for a patch that is not a list of operations,
/// [`JsonPatchError::TooManyOperations`], and [`JsonPatchError::Failed`] for an operation that does not apply.
pub fn apply(doc: &mut Value, patch: &Value) -> Result<(), JsonPatchError> {
    let operations = decode(patch)?;
    let mut work = doc.clone();
    for op in &operations {
        apply_one(&mut work, op).map_err(JsonPatchError::Failed)?;
    }
    *doc = work;
    Ok(())
}

fn apply_one(doc: &mut Value, op: &Operation<'_>) -> Result<(), String> {
    let path_str = op
        .path
        .ok_or_else(|| format!("{} operation missing path field", op.op))?;
    let path = parse_pointer(path_str)?;
    let value = || op.value.cloned().unwrap_or(Value::Null);
    match op.op {
        "add" => add(doc, &path, value(), path_str),
        "remove" => remove(doc, &path, path_str).map(drop),
        "replace" => replace(doc, &path, value(), path_str),
        "move" => {
            let from_str = op.from.ok_or("move operation missing from field")?;
            let from = parse_pointer(from_str)?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(format!(
                    "Unable to move {from_str} to {path_str}: a value cannot be moved into one of its children"
                ));
            }
            let moved = remove(doc, &from, from_str)?;
            add(doc, &path, moved, path_str)
        }
        "copy" => {
            let from_str = op.from.ok_or("copy operation missing from field")?;
            let from = parse_pointer(from_str)?;
            let copied = get(doc, &from).cloned().ok_or_else(|| {
                format!("copy operation does not apply: doc is missing from path: {from_str}")
            })?;
            add(doc, &path, copied, path_str)
        }
        "test" => test(doc, &path, op.value, path_str),
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// Splits an RFC 6901 pointer into unescaped tokens. `""` is the whole document.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer {pointer:?}: must start with \"/\""));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// An array index for reading or replacing: `0..len`, negative counting from the end.
fn existing_index(token: &str, len: usize) -> Result<usize, String> {
    let idx: i64 = token
        .parse()
        .map_err(|_| format!("Unable to access invalid index: {token}: invalid index referenced"))?;
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let idx = if idx < 0 { idx + len_i } else { idx };
    if idx < 0 || idx >= len_i {
        return Err(format!(
            "Unable to access invalid index: {token}: invalid index referenced"
        ));
    }
    usize::try_from(idx).map_err(|e| e.to_string())
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = doc;
    for token in path {
        current = match current {
            Value::Object(map) => map.get(token)?,
            Value::Array(items) => items.get(existing_index(token, items.len()).ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut current = doc;
    for token in path {
        current = match current {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => {
                let idx = existing_index(token, items.len()).ok()?;
                items.get_mut(idx)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// The container holding the last token of `path`, and that token.
fn parent<'a, 'p>(
    doc: &'a mut Value,
    path: &'p [String],
    op: &str,
    path_str: &str,
) -> Result<(&'a mut Value, &'p str), String> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| format!("{op} operation does not apply to the whole document"))?;
    let container = get_mut(doc, parents)
        .filter(|c| c.is_object() || c.is_array())
        .ok_or_else(|| {
            format!("{op} operation does not apply: doc is missing path: \"{path_str}\": missing value")
        })?;
    Ok((container, last.as_str()))
}

fn add(doc: &mut Value, path: &[String], value: Value, path_str: &str) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, key) = parent(doc, path, "add", path_str)?;
    match container {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let idx: i64 = key
                .parse()
                .map_err(|_| format!("Unable to access invalid index: {key}: invalid index referenced"))?;
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let idx = if idx < 0 { idx + len } else { idx };
            if idx < 0 || idx > len {
                return Err(format!(
                    "Unable to access invalid index: {key}: invalid index referenced"
                ));
            }
            items.insert(usize::try_from(idx).map_err(|e| e.to_string())?, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: \"{path_str}\""
        )),
    }
}

fn remove(doc: &mut Value, path: &[String], path_str: &str) -> Result<Value, String> {
    if path.is_empty() {
        return Ok(std::mem::replace(doc, Value::Null));
    }
    let (container, key) = parent(doc, path, "remove", path_str)?;
    match container {
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: missing value")),
        Value::Array(items) => {
            let idx = existing_index(key, items.len())?;
            Ok(items.remove(idx))
        }
        _ => Err(format!(
            "remove operation does not apply: doc is missing path: \"{path_str}\""
        )),
    }
}

fn replace(doc: &mut Value, path: &[String], value: Value, path_str: &str) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, key) = parent(doc, path, "replace", path_str)?;
    match container {
        Value::Object(map) => match map.get_mut(key) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(format!(
                "replace operation does not apply: doc is missing key: {path_str}: missing value"
            )),
        },
        Value::Array(items) => {
            let idx = existing_index(key, items.len())?;
            items[idx] = value;
            Ok(())
        }
        _ => Err(format!(
            "replace operation does not apply: doc is missing path: {path_str}"
        )),
    }
}

fn test(doc: &mut Value, path: &[String], expected: Option<&Value>, path_str: &str) -> Result<(), String> {
    let expected = expected.unwrap_or(&Value::Null);
    let actual = if path.is_empty() {
        &*doc
    } else {
        let (container, key) = parent(doc, path, "test", path_str)?;
        match container {
            // A missing key is null (evanphx v4), so `test` against null passes.
            Value::Object(map) => map.get(key).unwrap_or(&Value::Null),
            Value::Array(items) => {
                let idx = existing_index(key, items.len())
                    .map_err(|e| format!("error in test for path: '{path_str}': {e}"))?;
                &items[idx]
            }
            _ => &Value::Null,
        }
    };
    if json_equal(actual, expected) {
        Ok(())
    } else {
        Err(format!("testing value {path_str} failed: test failed"))
    }
}

/// Deep JSON equality with numbers compared by value, as Go compares decoded `float64`s.
#[must_use]
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => objects_equal(x, y),
        _ => a == b,
    }
}

fn objects_equal(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn patched(doc: Value, patch: Value) -> Result<Value, JsonPatchError> {
        let mut doc = doc;
        apply(&mut doc, &patch).map(|()| doc)
    }

    #[test]
    fn kube_rs_finalizer_patch_adds_to_a_missing_list() {
        let doc = json!({"metadata": {"name": "x"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}
        ]);
        assert_eq!(
            patched(doc, patch).unwrap(),
            json!({"metadata": {"name": "x", "finalizers": ["x"]}})
        );
    }

    #[test]
    fn kube_rs_finalizer_removal_by_index_with_test() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers/1", "value": "b"},
            {"op": "remove", "path": "/metadata/finalizers/1"}
        ]);
        assert_eq!(
            patched(doc.clone(), patch).unwrap(),
            json!({"metadata": {"finalizers": ["a"]}})
        );
        let stale = json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "b"},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ]);
        assert!(matches!(patched(doc, stale), Err(JsonPatchError::Failed(_))));
    }

    #[test]
    fn test_against_null_fails_when_the_value_is_present_and_when_the_parent_is_missing() {
        let doc = json!({"metadata": {"finalizers": ["a"]}});
        let patch = json!([{"op": "test", "path": "/metadata/finalizers", "value": null}]);
        assert!(matches!(patched(doc, patch), Err(JsonPatchError::Failed(_))));
        let doc = json!({});
        let patch = json!([{"op": "test", "path": "/metadata/finalizers", "value": null}]);
        assert!(matches!(patched(doc, patch), Err(JsonPatchError::Failed(_))));
    }

    #[test]
    fn remove_and_replace_of_missing_keys_fail_and_leave_the_document_alone() {
        let doc = json!({"data": {"a": "1"}});
        for patch in [
            json!([{"op": "remove", "path": "/data/b"}]),
            json!([{"op": "replace", "path": "/data/b", "value": "2"}]),
            json!([{"op": "add", "path": "/data/c", "value": "3"}, {"op": "remove", "path": "/nope/x"}]),
        ] {
            let mut d = doc.clone();
            assert!(
                matches!(apply(&mut d, &patch), Err(JsonPatchError::Failed(_))),
                "{patch}"
            );
            assert_eq!(d, doc);
        }
    }

    #[test]
    fn rfc6902_operations() {
        let doc = json!({"foo": ["bar", "baz"], "a": {"b": 1}});
        let cases = [
            (
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
                json!({"foo": ["bar", "qux", "baz"], "a": {"b": 1}}),
            ),
            (
                json!([{"op": "add", "path": "/foo/-", "value": "end"}]),
                json!({"foo": ["bar", "baz", "end"], "a": {"b": 1}}),
            ),
            (
                json!([{"op": "add", "path": "/foo/2", "value": "end"}]),
                json!({"foo": ["bar", "baz", "end"], "a": {"b": 1}}),
            ),
            (
                json!([{"op": "remove", "path": "/foo/0"}]),
                json!({"foo": ["baz"], "a": {"b": 1}}),
            ),
            (
                json!([{"op": "replace", "path": "/a/b", "value": 2}]),
                json!({"foo": ["bar", "baz"], "a": {"b": 2}}),
            ),
            (
                json!([{"op": "move", "from": "/a/b", "path": "/c"}]),
                json!({"foo": ["bar", "baz"], "a": {}, "c": 1}),
            ),
            (
                json!([{"op": "copy", "from": "/foo/0", "path": "/foo/-"}]),
                json!({"foo": ["bar", "baz", "bar"], "a": {"b": 1}}),
            ),
            (json!([{"op": "test", "path": "/a/b", "value": 1.0}]), doc.clone()),
            (
                json!([{"op": "add", "path": "/x~1y", "value": 1}]),
                json!({"foo": ["bar", "baz"], "a": {"b": 1}, "x/y": 1}),
            ),
            (
                json!([{"op": "add", "path": "", "value": {"new": true}}]),
                json!({"new": true}),
            ),
            (
                json!([{"op": "remove", "path": "/foo/-1"}]),
                json!({"foo": ["bar"], "a": {"b": 1}}),
            ),
        ];
        for (patch, expected) in cases {
            assert_eq!(patched(doc.clone(), patch.clone()).unwrap(), expected, "{patch}");
        }
    }

    #[test]
    fn failures() {
        let doc = json!({"foo": ["bar"]});
        for patch in [
            json!([{"op": "add", "path": "/foo/5", "value": 1}]),
            json!([{"op": "add", "path": "/missing/x", "value": 1}]),
            json!([{"op": "remove", "path": "/foo/1"}]),
            json!([{"op": "test", "path": "/foo/0", "value": "baz"}]),
            json!([{"op": "frobnicate", "path": "/foo"}]),
            json!([{"op": "add", "value": 1}]),
            json!([{"op": "move", "from": "/foo", "path": "/foo/0"}]),
            json!([{"op": "copy", "from": "/nope", "path": "/x"}]),
            json!([{"op": "add", "path": "foo", "value": 1}]),
        ] {
            assert!(
                matches!(
                    patched(doc.clone(), patch.clone()),
                    Err(JsonPatchError::Failed(_))
                ),
                "{patch}"
            );
        }
    }

    #[test]
    fn malformed_documents() {
        for patch in [
            json!({"op": "add"}),
            json!([1]),
            json!([{"op": 1, "path": "/a"}]),
            json!("x"),
        ] {
            assert!(
                matches!(validate(&patch), Err(JsonPatchError::Malformed(_))),
                "{patch}"
            );
        }
        let many = Value::Array(vec![json!({"op": "test", "path": "/a"}); MAX_OPERATIONS + 1]);
        assert!(matches!(
            validate(&many),
            Err(JsonPatchError::TooManyOperations(_))
        ));
    }
}
