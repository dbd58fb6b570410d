//! The store's create-or-update, for PATCH requests that may create their object (server-side apply).
//! Kept apart from `store.rs`: it only composes [`Store::get`], [`Store::create`] and
//! [`Store::guaranteed_update`].

use serde_json::{Value, json};

use super::{
    meta,
    store::{Store, Target, UpdateMode},
};
use crate::error::{ApiError, ApiResult};

/// How many times a create-or-update goes round when the object appears or vanishes meanwhile.
const ATTEMPTS: usize = 8;

impl Store {
    /// Updates object `name` with `transform(Some(current))` like [`Store::guaranteed_update`], or, when it
    /// does not exist, creates it from `transform(None)` (kube's `forceAllowCreate` update, used by
    /// server-side apply). Returns the object and whether it was created. Only the main resource can be
    /// created this way: a missing object through a subresource is a 404.
    ///
    /// The created object gets the URL's name when it has none; another name is a 400. A `resourceVersion`
    /// in it is ignored.
    ///
    /// # Errors
    /// As [`Store::create`] and [`Store::guaranteed_update`], and whatever `transform` returns.
    pub async fn update_or_create(
        &self,
        target: Target<'_>,
        name: &str,
        mode: UpdateMode,
        dry_run: bool,
        transform: impl Fn(Option<&Value>) -> ApiResult<Value>,
    ) -> ApiResult<(Value, bool)> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match self.get(target, name).await {
                Ok(_) => {
                    match self
                        .guaranteed_update(target, name, mode, dry_run, |current| transform(Some(current)))
                        .await
                    {
                        // Deleted meanwhile: create it.
                        Err(e) if e.code == 404 && e.reason == "NotFound" && is_this_object(&e, name) => {
                            last = Some(e);
                        }
                        other => return other.map(|object| (object, false)),
                    }
                }
                Err(e) if e.code == 404 && mode == UpdateMode::Main => {
                    let mut body = transform(None)?;
                    match meta::string_field(&body, "name") {
                        Some(body_name) if body_name != name => {
                            return Err(ApiError::bad_request(format!(
                                "the name of the object ({body_name}) does not match the name on the URL ({name})"
                            )));
                        }
                        Some(_) => {}
                        None => meta::set_field(&mut body, "name", Some(json!(name))),
                    }
                    meta::set_field(&mut body, "resourceVersion", None);
                    match self.create(target, body, dry_run).await {
                        Err(e) if e.reason == "AlreadyExists" => last = Some(e),
                        other => return other.map(|object| (object, true)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ApiError::internal("create-or-update gave up without an error")))
    }
}

/// Whether a 404 is about the object itself (not about its namespace).
fn is_this_object(err: &ApiError, name: &str) -> bool {
    err.details
        .as_ref()
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
        == Some(name)
}
