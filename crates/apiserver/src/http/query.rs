//! Query parameters as Kubernetes clients send them: repeated keys, empty pairs (`?&watch=true`), Go-style
//! booleans, unknown parameters ignored.

use std::time::Duration;

use fcp_api::selector::{FieldSelector, LabelSelector};

use crate::{
    error::{ApiError, ApiResult},
    registry::{ResourceDef, store::ListOptions, watch::WatchOptions},
};

/// The decoded query string.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (`None` = no query).
    #[must_use]
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The last value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    #[must_use]
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter with Go's `strconv.ParseBool` spellings; absent = `false`.
    ///
    /// # Errors
    /// 400 for anything else.
    pub fn flag(&self, key: &str) -> ApiResult<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(value) => parse_bool(value).ok_or_else(|| {
                ApiError::bad_request(format!("invalid value {value:?} for {key}: expected a boolean"))
            }),
        }
    }

    /// Whether the request is a watch (`watch=true`, `watch=1`, ...; `watch=false` is a list).
    ///
    /// # Errors
    /// 400 for a value that is not a boolean.
    pub fn is_watch(&self) -> ApiResult<bool> {
        self.flag("watch")
    }

    /// List options of `resource`: selectors (field selectors checked against the kind's selectable fields),
    /// limit, continue, resourceVersion, resourceVersionMatch.
    ///
    /// # Errors
    /// 400 for unparsable selectors or limits, or a field the kind cannot be selected by.
    pub fn list_options(&self, resource: &ResourceDef) -> ApiResult<ListOptions> {
        let label_selector = LabelSelector::parse(self.get("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let field_selector = FieldSelector::parse(self.get("fieldSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        for requirement in field_selector.requirements() {
            resource
                .strategy
                .check_field_selector(&requirement.field)
                .map_err(ApiError::bad_request)?;
        }
        let limit = match self.get("limit").filter(|l| !l.is_empty()) {
            None => 0,
            Some(limit) => limit
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {limit:?}: expected an integer")))?
                .max(0) as u64,
        };
        if self.get("sendInitialEvents").is_some() && !self.is_watch()? {
            return Err(ApiError::invalid_options(
                "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
            ));
        }
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit,
            continue_token: self.get("continue").filter(|c| !c.is_empty()).map(str::to_owned),
            resource_version: self
                .get("resourceVersion")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            resource_version_match: self
                .get("resourceVersionMatch")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        })
    }

    /// Watch options: the list options plus `timeoutSeconds`.
    ///
    /// # Errors
    /// 400 for unparsable values.
    pub fn watch_options(&self, resource: &ResourceDef) -> ApiResult<WatchOptions> {
        let timeout = match self.get("timeoutSeconds").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid timeoutSeconds {t:?}: expected an integer"))
            })?)),
        };
        let send_initial_events = match self.get("sendInitialEvents") {
            None => None,
            Some(_) => Some(self.flag("sendInitialEvents")?),
        };
        Ok(WatchOptions {
            list: self.list_options(resource)?,
            timeout,
            bookmarks: self.flag("allowWatchBookmarks")?,
            send_initial_events,
        })
    }
}

/// Go's `strconv.ParseBool`.
#[must_use]
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configmaps() -> std::sync::Arc<ResourceDef> {
        let registry = crate::registry::Registry::new(crate::resources::federation_profile());
        registry.lookup("", "v1", "configmaps").cloned().unwrap()
    }

    #[test]
    fn empty_pairs_and_unknown_parameters_are_tolerated() {
        let q = Query::parse(Some("&watch=true&timeout=32s&&limit=5"));
        assert!(q.is_watch().unwrap());
        assert_eq!(q.list_options(&configmaps()).unwrap().limit, 5);
    }

    #[test]
    fn watch_false_is_a_list() {
        assert!(!Query::parse(Some("watch=false")).is_watch().unwrap());
        assert!(!Query::parse(Some("watch=0")).is_watch().unwrap());
        assert!(Query::parse(Some("watch=1")).is_watch().unwrap());
        assert!(Query::parse(Some("watch=True")).is_watch().unwrap());
        assert_eq!(Query::parse(Some("watch=yes")).is_watch().unwrap_err().code, 400);
    }

    #[test]
    fn unknown_field_selectors_are_rejected() {
        let err = Query::parse(Some("fieldSelector=spec.foo%3Dbar"))
            .list_options(&configmaps())
            .unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message.contains("is not a known field selector"),
            "{}",
            err.message
        );
        assert!(
            Query::parse(Some("fieldSelector=metadata.name%3Dx"))
                .list_options(&configmaps())
                .is_ok()
        );
    }
}
