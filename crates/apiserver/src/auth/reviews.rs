//! The review APIs: create-only resources that ask the server about access instead of storing anything.
//! - `authorization.k8s.io/v1` `selfsubjectaccessreviews` (`kubectl auth can-i`), `selfsubjectrulesreviews`
//!   (`kubectl auth can-i --list`), `subjectaccessreviews` (about another user; needs `create` on it);
//! - `authentication.k8s.io/v1` `selfsubjectreviews` (`kubectl auth whoami`).
//!
//! Each answers `201 Created` with the request object and its `status` filled in.

use serde_json::{Value, json};

use super::{
    UserInfo,
    authz::{Authorizer, Decision, RequestAttributes},
};
use crate::error::{ApiError, ApiResult};

/// One review resource as discovery lists it.
#[derive(Debug, Clone, Copy)]
pub struct ReviewResource {
    /// API group.
    pub group: &'static str,
    /// Version (`v1`).
    pub version: &'static str,
    /// Plural.
    pub plural: &'static str,
    /// Singular.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
}

/// Every review resource served, in discovery order.
pub const REVIEW_RESOURCES: [ReviewResource; 4] = [
    ReviewResource {
        group: "authentication.k8s.io",
        version: "v1",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        kind: "SelfSubjectReview",
    },
    ReviewResource {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
    },
    ReviewResource {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        kind: "SelfSubjectRulesReview",
    },
    ReviewResource {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        kind: "SubjectAccessReview",
    },
];

/// The review resource at `/apis/<group>/<version>/<plural>`, if `path` is one.
#[must_use]
pub fn lookup(path: &str) -> Option<&'static ReviewResource> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis", group, version, plural] => REVIEW_RESOURCES
            .iter()
            .find(|r| r.group == *group && r.version == *version && r.plural == *plural),
        _ => None,
    }
}

/// Answers a review: `body` is the request object, `user` who asks.
///
/// # Errors
/// 400 for a body of the wrong kind, 422 for a spec without attributes.
pub fn answer(
    review: &ReviewResource,
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    mut body: Value,
) -> ApiResult<Value> {
    let expected_api_version = format!("{}/{}", review.group, review.version);
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or(review.kind);
    let api_version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or(&expected_api_version);
    if kind != review.kind || api_version != expected_api_version {
        return Err(ApiError::bad_request(format!(
            "the body is a {api_version}, Kind={kind}, not the expected {expected_api_version}, Kind={}",
            review.kind
        )));
    }
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = match review.plural {
        "selfsubjectreviews" => json!({"userInfo": user}),
        "selfsubjectaccessreviews" => access_status(authorizer, user, &spec, review)?,
        "subjectaccessreviews" => {
            let subject = UserInfo {
                name: string(&spec, "user").to_owned(),
                uid: string(&spec, "uid").to_owned(),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|g| g.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default(),
                extra: spec
                    .get("extra")
                    .and_then(|e| serde_json::from_value(e.clone()).ok())
                    .unwrap_or_default(),
            };
            if subject.name.is_empty() && subject.groups.is_empty() {
                return Err(invalid(
                    review,
                    "spec.user",
                    "at least one of user or group must be specified",
                ));
            }
            access_status(authorizer, &subject, &spec, review)?
        }
        "selfsubjectrulesreviews" => {
            let namespace = string(&spec, "namespace");
            serde_json::to_value(authorizer.rules_for(user, namespace))
                .map_err(|e| ApiError::internal(format!("cannot encode the rules review: {e}")))?
        }
        _ => return Err(ApiError::path_not_found()),
    };
    if let Some(map) = body.as_object_mut() {
        map.insert("kind".to_owned(), json!(review.kind));
        map.insert("apiVersion".to_owned(), json!(expected_api_version));
        let metadata = map.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("creationTimestamp".to_owned(), Value::Null);
        }
        map.insert("status".to_owned(), status);
    } else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    Ok(body)
}

/// The status of an access review of `spec` for `user`.
fn access_status(
    authorizer: &dyn Authorizer,
    user: &UserInfo,
    spec: &Value,
    review: &ReviewResource,
) -> ApiResult<Value> {
    let attributes = if let Some(resource) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        RequestAttributes {
            verb: string(resource, "verb").to_owned(),
            resource_request: true,
            path: String::new(),
            api_group: string(resource, "group").to_owned(),
            api_version: string(resource, "version").to_owned(),
            resource: string(resource, "resource").to_owned(),
            subresource: string(resource, "subresource").to_owned(),
            namespace: string(resource, "namespace").to_owned(),
            name: string(resource, "name").to_owned(),
        }
    } else if let Some(path) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        RequestAttributes::non_resource(string(path, "verb"), string(path, "path"))
    } else {
        return Err(invalid(
            review,
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    Ok(match authorizer.authorize(user, &attributes) {
        Decision::Allow(reason) => json!({"allowed": true, "reason": reason}),
        Decision::Deny(reason) => json!({"allowed": false, "denied": true, "reason": reason}),
        Decision::NoOpinion(reason) => json!({"allowed": false, "reason": reason}),
    })
}

fn string<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn invalid(review: &ReviewResource, field: &str, detail: &str) -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!(
            "{}.{} \"\" is invalid: {field}: Invalid value: {detail}",
            review.kind, review.group
        ),
        details: Some(json!({
            "group": review.group,
            "kind": review.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {detail}"), "field": field}],
        })),
        retry_after_seconds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authz::{AlwaysAllow, AlwaysDeny};

    fn review(plural: &str) -> &'static ReviewResource {
        REVIEW_RESOURCES
            .iter()
            .find(|r| r.plural == plural)
            .unwrap_or(&REVIEW_RESOURCES[0])
    }

    #[test]
    fn access_reviews_report_the_decision() {
        let user = UserInfo::new("alice", "", &["system:authenticated"]);
        let body = json!({
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "spec": {"resourceAttributes": {"namespace": "a", "verb": "get", "resource": "configmaps"}},
        });
        let allowed = answer(
            review("selfsubjectaccessreviews"),
            &AlwaysAllow,
            &user,
            body.clone(),
        );
        assert_eq!(
            allowed.ok().map(|b| b["status"]["allowed"].clone()),
            Some(json!(true))
        );
        let denied = answer(review("selfsubjectaccessreviews"), &AlwaysDeny, &user, body);
        assert_eq!(
            denied
                .ok()
                .map(|b| (b["status"]["allowed"].clone(), b["status"]["denied"].clone())),
            Some((json!(false), json!(true)))
        );
        let empty =
            json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": {}});
        assert_eq!(
            answer(review("selfsubjectaccessreviews"), &AlwaysAllow, &user, empty)
                .err()
                .map(|e| e.code),
            Some(422)
        );
        let wrong = json!({"kind": "Pod", "apiVersion": "v1"});
        assert_eq!(
            answer(review("selfsubjectaccessreviews"), &AlwaysAllow, &user, wrong)
                .err()
                .map(|e| e.code),
            Some(400)
        );
    }

    #[test]
    fn self_subject_review_echoes_the_user() {
        let user = UserInfo::new("alice", "7", &["dev", "system:authenticated"]);
        let body = json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"});
        let answered = answer(review("selfsubjectreviews"), &AlwaysAllow, &user, body).ok();
        assert_eq!(
            answered.map(|b| b["status"]["userInfo"].clone()),
            Some(json!({"username": "alice", "uid": "7", "groups": ["dev", "system:authenticated"]}))
        );
        assert!(lookup("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").is_some());
        assert!(lookup("/apis/authorization.k8s.io/v1/namespaces/a/selfsubjectaccessreviews").is_none());
    }
}
