//! Writes: each is a future that talks to the apiserver and returns what to do with the simulator's state
//! afterwards (store the response, forget a deleted object, try again later).

use futures::{FutureExt, future::BoxFuture};
use kube::{
    ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
};
use serde_json::Value;

use super::{Item, Kind, State};
use crate::cache::{Key, key_of};

/// A change to the simulator's state after a write.
pub(crate) type Apply = Box<dyn FnOnce(&mut State) + Send>;
/// A write in flight.
pub(crate) type Op = BoxFuture<'static, Vec<Apply>>;

/// Whether a failed request is worth repeating: server errors, throttling and transport failures are;
/// rejections (4xx) are not, they would fail again the same way.
fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        _ => true,
    }
}

/// The HTTP status of an API error.
pub(crate) fn code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// What to do after a failed write: log it, and look at `retry` again later when it may succeed then.
pub(crate) fn failed<K: Kind>(what: &str, key: &Key, error: &kube::Error, retry: Item) -> Vec<Apply> {
    if transient(error) {
        tracing::warn!(resource = K::PLURAL, namespace = %key.0, name = %key.1, error = %error, "simulator could not {what}; will retry");
        vec![Box::new(move |state: &mut State| state.retry(retry))]
    } else {
        tracing::warn!(resource = K::PLURAL, namespace = %key.0, name = %key.1, error = %error, "simulator could not {what}");
        Vec::new()
    }
}

/// Stores `object` in the state.
pub(crate) fn stored<K: Kind>(object: K) -> Apply {
    Box::new(move |state: &mut State| state.put(object))
}

/// Forgets `key` in the state.
pub(crate) fn removed<K: Kind>(key: Key) -> Apply {
    Box::new(move |state: &mut State| state.forget::<K>(&key))
}

/// Creates `object`. When it exists already (the cache had not seen it yet), the existing object is read
/// into the cache instead.
pub(crate) fn create<K: Kind>(client: &kube::Client, object: K, retry: Item) -> Op {
    let client = client.clone();
    async move { create_now(&client, object, retry).await }.boxed()
}

/// [`create`], awaited.
pub(crate) async fn create_now<K: Kind>(client: &kube::Client, object: K, retry: Item) -> Vec<Apply> {
    let key = key_of(&object);
    let api = K::api(client, &key.0);
    match api.create(&PostParams::default(), &object).await {
        Ok(created) => vec![stored(created)],
        Err(e) if code(&e) == Some(409) => match api.get_opt(&key.1).await {
            Ok(Some(existing)) => vec![stored(existing)],
            Ok(None) => vec![Box::new(move |state: &mut State| state.retry(retry))],
            Err(e) => failed::<K>("read an existing object", &key, &e, retry),
        },
        Err(e) => failed::<K>("create", &key, &e, retry),
    }
}

/// A JSON merge patch of the object at `key` (of its status subresource when `status`).
pub(crate) fn patch<K: Kind>(client: &kube::Client, key: Key, status: bool, body: Value, retry: Item) -> Op {
    let client = client.clone();
    async move {
        let api = K::api(&client, &key.0);
        let params = PatchParams::default();
        let result = if status {
            api.patch_status(&key.1, &params, &Patch::Merge(&body)).await
        } else {
            api.patch(&key.1, &params, &Patch::Merge(&body)).await
        };
        match result {
            Ok(patched) => {
                let rv = patched.resource_version().unwrap_or_default();
                let memo_key = key.clone();
                vec![
                    stored(patched),
                    Box::new(move |state: &mut State| state.remember_patch(K::PLURAL, memo_key, rv, body)),
                ]
            }
            Err(e) if code(&e) == Some(404) => vec![removed::<K>(key)],
            Err(e) => failed::<K>("update", &key, &e, retry),
        }
    }
    .boxed()
}

/// Deletes the object at `key` at once (grace period 0), if it still has `uid`.
pub(crate) fn delete<K: Kind>(client: &kube::Client, key: Key, uid: Option<String>, retry: Item) -> Op {
    let client = client.clone();
    async move { delete_now::<K>(&client, key, uid, retry).await }.boxed()
}

/// [`delete`], awaited; the result says whether the object is gone.
pub(crate) async fn delete_now<K: Kind>(
    client: &kube::Client,
    key: Key,
    uid: Option<String>,
    retry: Item,
) -> Vec<Apply> {
    let api = K::api(client, &key.0);
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&key.1, &params).await {
        Ok(_) => vec![removed::<K>(key)],
        Err(e) if code(&e) == Some(404) => vec![removed::<K>(key)],
        // The uid precondition failed: a new object of the same name, which the watch will bring.
        Err(e) if code(&e) == Some(409) => Vec::new(),
        Err(e) => failed::<K>("delete", &key, &e, retry),
    }
}

/// The RFC 7386 merge patch that turns `old` into `new`; `None` when they are equal.
#[must_use]
pub(crate) fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = serde_json::Map::new();
            for (key, old_value) in old {
                match new.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new_value) => {
                        if let Some(diff) = merge_diff(old_value, new_value) {
                            patch.insert(key.clone(), diff);
                        }
                    }
                }
            }
            for (key, new_value) in new {
                if !old.contains_key(key) {
                    patch.insert(key.clone(), new_value.clone());
                }
            }
            if patch.is_empty() {
                None
            } else {
                Some(Value::Object(patch))
            }
        }
        _ => Some(new.clone()),
    }
}

/// `value` as JSON (`null` if it cannot be encoded, which typed Kubernetes objects always can).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_diff;

    #[test]
    fn merge_diffs() {
        assert_eq!(merge_diff(&json!({"a": 1}), &json!({"a": 1})), None);
        assert_eq!(
            merge_diff(
                &json!({"a": 1, "b": {"c": 2, "d": 3}}),
                &json!({"b": {"c": 2}, "e": [1]})
            ),
            Some(json!({"a": null, "b": {"d": null}, "e": [1]}))
        );
        assert_eq!(
            merge_diff(&json!({"l": [1, 2]}), &json!({"l": [2]})),
            Some(json!({"l": [2]}))
        );
        assert_eq!(merge_diff(&Value::Null, &json!({"a": 1})), Some(json!({"a": 1})));
    }

    use serde_json::Value;
}
