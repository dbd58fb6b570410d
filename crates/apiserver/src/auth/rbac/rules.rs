//! RBAC policy rules and kube's `rbac/v1` helpers on them: whether a rule allows a request
//! ([`Rule::allows`], kube's `RuleAllows`), whether some rules cover others ([`covers`], kube's
//! `validation.Covers`, used by escalation prevention and bootstrap reconciliation), and the compact text
//! form of escalation errors ([`compact`], [`compact_string`]).

use std::collections::BTreeSet;

use fcp_api::validation::go_quote;
use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::auth::authz::{NonResourceRule, RequestAttributes, ResourceRule};

/// `*` in `verbs`: every verb.
pub const VERB_ALL: &str = "*";
/// `*` in `apiGroups`: every group.
pub const API_GROUP_ALL: &str = "*";
/// `*` in `resources`: every resource and subresource.
pub const RESOURCE_ALL: &str = "*";
/// `*` in `nonResourceURLs`: every path.
pub const NON_RESOURCE_ALL: &str = "*";

/// One `rbac/v1` `PolicyRule`, with absent lists as empty ones (kube compares them semantically: nil and
/// empty are equal).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    /// Verbs (`get`, `*`).
    pub verbs: Vec<String>,
    /// API groups (`""` for core, `*`).
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `deployments/scale`, `*/status`, `*`).
    pub resources: Vec<String>,
    /// Object names the rule is limited to; empty = any.
    pub resource_names: Vec<String>,
    /// Non-resource paths (`/healthz`, `/apis/*`, `*`).
    pub non_resource_urls: Vec<String>,
}

fn owned(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl Rule {
    /// A rule with these verbs and nothing else; add the rest with the builder methods
    /// (`Rule::verbs(&["get"]).groups(&[""]).resources(&["configmaps"])`), as kube's `NewRule`.
    #[must_use]
    pub fn verbs(verbs: &[&str]) -> Self {
        Self {
            verbs: owned(verbs),
            ..Self::default()
        }
    }

    /// With these API groups.
    #[must_use]
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.api_groups = owned(groups);
        self
    }

    /// With these resources.
    #[must_use]
    pub fn resources(mut self, resources: &[&str]) -> Self {
        self.resources = owned(resources);
        self
    }

    /// Limited to these object names.
    #[must_use]
    pub fn names(mut self, names: &[&str]) -> Self {
        self.resource_names = owned(names);
        self
    }

    /// With these non-resource URLs.
    #[must_use]
    pub fn urls(mut self, urls: &[&str]) -> Self {
        self.non_resource_urls = owned(urls);
        self
    }

    /// The rule of an API object.
    #[must_use]
    pub fn from_policy(rule: &PolicyRule) -> Self {
        let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
        Self {
            verbs: rule.verbs.clone(),
            api_groups: list(&rule.api_groups),
            resources: list(&rule.resources),
            resource_names: list(&rule.resource_names),
            non_resource_urls: list(&rule.non_resource_urls),
        }
    }

    /// The API object of this rule (empty lists absent, as kube serializes them).
    #[must_use]
    pub fn to_policy(&self) -> PolicyRule {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        PolicyRule {
            verbs: self.verbs.clone(),
            api_groups: list(&self.api_groups),
            resources: list(&self.resources),
            resource_names: list(&self.resource_names),
            non_resource_urls: list(&self.non_resource_urls),
        }
    }

    /// Whether this rule allows `request` (kube's `RuleAllows`): for a resource request the verb, the API
    /// group, the resource (`*`, `resource[/subresource]` exactly, or `*/subresource`) and the name (any
    /// when the rule lists none; a request without a name, such as a create or a list, never matches a rule
    /// that lists names) must match; for a non-resource request the verb and the path (`*`, exactly, or a
    /// prefix for a URL ending in `*`). Allocation-free.
    #[must_use]
    pub fn allows(&self, request: &RequestAttributes) -> bool {
        if request.resource_request {
            self.verb_matches(&request.verb)
                && self.api_group_matches(&request.api_group)
                && self.resource_matches(&request.resource, &request.subresource)
                && self.resource_name_matches(&request.name)
        } else {
            self.verb_matches(&request.verb) && self.non_resource_url_matches(&request.path)
        }
    }

    /// kube's `VerbMatches`.
    #[must_use]
    pub fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == VERB_ALL || v == verb)
    }

    /// kube's `APIGroupMatches`.
    #[must_use]
    pub fn api_group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == API_GROUP_ALL || g == group)
    }

    /// kube's `ResourceMatches` for `resource` with `subresource` (empty for the main resource).
    #[must_use]
    pub fn resource_matches(&self, resource: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            if r == RESOURCE_ALL {
                return true;
            }
            if subresource.is_empty() {
                return r == resource;
            }
            let combined = r
                .strip_prefix(resource)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|sub| sub == subresource);
            combined || r.strip_prefix("*/").is_some_and(|sub| sub == subresource)
        })
    }

    /// kube's `ResourceNameMatches`.
    #[must_use]
    pub fn resource_name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name)
    }

    /// kube's `NonResourceURLMatches`.
    #[must_use]
    pub fn non_resource_url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|url| url_covers(url, path))
    }

    /// The SelfSubjectRulesReview form of the resource part, if the rule has resources.
    #[must_use]
    pub fn resource_rule(&self) -> Option<ResourceRule> {
        (!self.resources.is_empty()).then(|| ResourceRule {
            verbs: self.verbs.clone(),
            api_groups: self.api_groups.clone(),
            resources: self.resources.clone(),
            resource_names: self.resource_names.clone(),
        })
    }

    /// The SelfSubjectRulesReview form of the non-resource part, if the rule has URLs.
    #[must_use]
    pub fn non_resource_rule(&self) -> Option<NonResourceRule> {
        (!self.non_resource_urls.is_empty()).then(|| NonResourceRule {
            verbs: self.verbs.clone(),
            non_resource_urls: self.non_resource_urls.clone(),
        })
    }
}

/// Whether the rule URL `owner` covers `path`: `*`, equal, or a prefix when `owner` ends in `*` (kube trims
/// every trailing `*`).
fn url_covers(owner: &str, path: &str) -> bool {
    owner == NON_RESOURCE_ALL
        || owner == path
        || (owner.ends_with('*') && path.starts_with(owner.trim_end_matches('*')))
}

/// kube's `BreakdownRule`: the equivalent rules with at most one group, resource, verb and name each (URL
/// rules: one URL and one verb each).
#[must_use]
pub fn breakdown(rule: &Rule) -> Vec<Rule> {
    let mut out = Vec::new();
    let one = |v: &String| vec![v.clone()];
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let base = Rule {
                    verbs: one(verb),
                    api_groups: one(group),
                    resources: one(resource),
                    ..Rule::default()
                };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    for name in &rule.resource_names {
                        out.push(Rule {
                            resource_names: one(name),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(Rule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..Rule::default()
            });
        }
    }
    out
}

fn has(set: &[String], element: &str) -> bool {
    set.iter().any(|s| s == element)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

/// kube's `resourceCoversAll`: `*`, every resource listed, or for subresources `*/<sub>`.
fn resources_cover_all(owner: &[String], wanted: &[String]) -> bool {
    if has(owner, RESOURCE_ALL) || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        if has(owner, path) {
            return true;
        }
        match path.split_once('/') {
            Some((_, sub)) => owner.iter().any(|o| o.strip_prefix("*/") == Some(sub)),
            None => false,
        }
    })
}

fn urls_cover_all(owner: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|path| owner.iter().any(|o| url_covers(o, path)))
}

/// kube's `ruleCovers`: whether `owner` grants everything the broken-down `sub` rule does.
fn rule_covers(owner: &Rule, sub: &Rule) -> bool {
    let verbs = has(&owner.verbs, VERB_ALL) || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, API_GROUP_ALL) || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover_all(&owner.resources, &sub.resources);
    let urls = urls_cover_all(&owner.non_resource_urls, &sub.non_resource_urls);
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && names && urls
}

/// kube's `Covers`: whether `owner` rules grant everything `servant` rules do. Returns the broken-down
/// servant rules that no owner rule covers (empty when covered).
#[must_use]
pub fn covers(owner: &[Rule], servant: &[Rule]) -> (bool, Vec<Rule>) {
    let uncovered: Vec<Rule> = servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect();
    (uncovered.is_empty(), uncovered)
}

/// kube's `CompactRules`: rules with one group, one resource, at most one name and nothing else are merged
/// when they differ only by verb. Other rules come first, then the merged ones (kube's order of the merged
/// ones is a map's; here it is sorted, and [`compact_string`] lines are sorted anyway).
#[must_use]
pub fn compact(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut simple: std::collections::BTreeMap<(String, String, Option<String>), Rule> =
        std::collections::BTreeMap::new();
    for rule in rules {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            out.push(rule);
            continue;
        }
        let key = (
            rule.api_groups[0].clone(),
            rule.resources[0].clone(),
            rule.resource_names.first().cloned(),
        );
        match simple.get_mut(&key) {
            Some(existing) => {
                for verb in rule.verbs {
                    if !existing.verbs.contains(&verb) {
                        existing.verbs.push(verb);
                    }
                }
            }
            None => {
                simple.insert(key, rule);
            }
        }
    }
    out.extend(simple.into_values());
    out
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
#[must_use]
pub fn go_quoted_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[{}]", quoted.join(" "))
}

/// kube's `CompactString`: `{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}` (only the
/// non-empty fields, in that order with NonResourceURLs and ResourceNames between).
#[must_use]
pub fn compact_string(rule: &Rule) -> String {
    let mut parts = Vec::new();
    for (label, values) in [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ] {
        if !values.is_empty() {
            parts.push(format!("{label}:{}", go_quoted_list(values)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// The lines of an escalation error: the missing rules compacted, described, sorted and deduplicated (kube
/// puts them in a `sets.String`).
#[must_use]
pub fn describe_missing(missing: Vec<Rule>) -> String {
    let lines: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    lines.into_iter().collect::<Vec<_>>().join("\n")
}

/// The rules that hold every right (`*` on `*.*` and on every URL): what using an `aggregationRule` needs.
#[must_use]
pub fn full_authority() -> Vec<Rule> {
    vec![
        Rule::verbs(&["*"]).groups(&["*"]).resources(&["*"]),
        Rule::verbs(&["*"]).urls(&["*"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> RequestAttributes {
        RequestAttributes {
            subresource: sub.to_owned(),
            ..RequestAttributes::resource(verb, group, resource, "ns", name)
        }
    }

    #[test]
    fn rule_matching_table() {
        let cm_read = Rule::verbs(&["get", "list"])
            .groups(&[""])
            .resources(&["configmaps"]);
        let all = Rule::verbs(&["*"]).groups(&["*"]).resources(&["*"]);
        let status = Rule::verbs(&["get"]).groups(&["apps"]).resources(&["*/status"]);
        let scale = Rule::verbs(&["update"])
            .groups(&["apps"])
            .resources(&["deployments/scale"]);
        let named = Rule::verbs(&["get", "update", "create", "list"])
            .groups(&[""])
            .resources(&["secrets"])
            .names(&["s1"]);
        let cases: Vec<(&Rule, RequestAttributes, bool)> = vec![
            (&cm_read, resource("get", "", "configmaps", "", "x"), true),
            (&cm_read, resource("list", "", "configmaps", "", ""), true),
            (&cm_read, resource("watch", "", "configmaps", "", ""), false),
            (&cm_read, resource("get", "apps", "configmaps", "", "x"), false),
            (&cm_read, resource("get", "", "secrets", "", "x"), false),
            // A rule on a resource does not grant its subresources.
            (&cm_read, resource("get", "", "configmaps", "status", "x"), false),
            (
                &all,
                resource("escalate", "rbac.authorization.k8s.io", "roles", "", "r"),
                true,
            ),
            (&all, resource("get", "apps", "deployments", "scale", "d"), true),
            (
                &status,
                resource("get", "apps", "deployments", "status", "d"),
                true,
            ),
            (
                &status,
                resource("get", "apps", "replicasets", "status", "r"),
                true,
            ),
            (&status, resource("get", "apps", "deployments", "", "d"), false),
            (
                &status,
                resource("get", "apps", "deployments", "scale", "d"),
                false,
            ),
            (
                &scale,
                resource("update", "apps", "deployments", "scale", "d"),
                true,
            ),
            (&scale, resource("update", "apps", "deployments", "", "d"), false),
            (
                &scale,
                resource("update", "apps", "replicasets", "scale", "d"),
                false,
            ),
            (
                &scale,
                resource("update", "apps", "deploymentsx", "scale", "d"),
                false,
            ),
            (&named, resource("get", "", "secrets", "", "s1"), true),
            (&named, resource("update", "", "secrets", "", "s1"), true),
            (&named, resource("get", "", "secrets", "", "s2"), false),
            // Creates and lists carry no name: a rule with names never matches them.
            (&named, resource("create", "", "secrets", "", ""), false),
            (&named, resource("list", "", "secrets", "", ""), false),
        ];
        for (rule, request, want) in cases {
            assert_eq!(rule.allows(&request), want, "{rule:?} on {request:?}");
        }
    }

    #[test]
    fn non_resource_url_matching() {
        let rule = Rule::verbs(&["get"]).urls(&["/healthz", "/apis/*", "/version/"]);
        let get = |path: &str| RequestAttributes::non_resource("get", path);
        assert!(rule.allows(&get("/healthz")));
        assert!(!rule.allows(&get("/healthz/etcd")));
        assert!(rule.allows(&get("/apis/apps/v1")));
        assert!(rule.allows(&get("/apis/")));
        assert!(!rule.allows(&get("/apis")));
        assert!(rule.allows(&get("/version/")));
        assert!(!rule.allows(&get("/version")));
        assert!(!rule.allows(&RequestAttributes::non_resource("post", "/healthz")));
        let all = Rule::verbs(&["*"]).urls(&["*"]);
        assert!(all.allows(&RequestAttributes::non_resource("delete", "/anything")));
        // URL rules never grant resource requests, and resource rules never grant URLs.
        assert!(!all.allows(&resource("get", "", "configmaps", "", "x")));
        let everything = Rule::verbs(&["*"]).groups(&["*"]).resources(&["*"]);
        assert!(!everything.allows(&get("/healthz")));
        // Several trailing stars are one prefix.
        assert!(Rule::verbs(&["get"]).urls(&["/logs**"]).allows(&get("/logs/x")));
    }

    #[test]
    fn covers_like_kube() {
        let owner = vec![
            Rule::verbs(&["get", "list"])
                .groups(&[""])
                .resources(&["configmaps"]),
            Rule::verbs(&["get"]).groups(&["apps"]).resources(&["*/status"]),
            Rule::verbs(&["get"])
                .groups(&[""])
                .resources(&["secrets"])
                .names(&["a", "b"]),
            Rule::verbs(&["get"]).urls(&["/apis/*"]),
        ];
        let yes = |servant: Rule| {
            let (ok, missing) = covers(&owner, std::slice::from_ref(&servant));
            assert!(ok, "{servant:?} should be covered, missing {missing:?}");
        };
        let no = |servant: Rule| {
            let (ok, _) = covers(&owner, std::slice::from_ref(&servant));
            assert!(!ok, "{servant:?} should not be covered");
        };
        yes(Rule::verbs(&["get"]).groups(&[""]).resources(&["configmaps"]));
        yes(Rule::verbs(&["get", "list"])
            .groups(&[""])
            .resources(&["configmaps"])
            .names(&["x"]));
        no(Rule::verbs(&["watch"]).groups(&[""]).resources(&["configmaps"]));
        no(Rule::verbs(&["*"]).groups(&[""]).resources(&["configmaps"]));
        no(Rule::verbs(&["get"]).groups(&["*"]).resources(&["configmaps"]));
        no(Rule::verbs(&["get"]).groups(&[""]).resources(&["*"]));
        yes(Rule::verbs(&["get"])
            .groups(&["apps"])
            .resources(&["deployments/status"]));
        no(Rule::verbs(&["get"])
            .groups(&["apps"])
            .resources(&["deployments"]));
        yes(Rule::verbs(&["get"])
            .groups(&[""])
            .resources(&["secrets"])
            .names(&["a"]));
        yes(Rule::verbs(&["get"])
            .groups(&[""])
            .resources(&["secrets"])
            .names(&["a", "b"]));
        no(Rule::verbs(&["get"])
            .groups(&[""])
            .resources(&["secrets"])
            .names(&["c"]));
        // Owner rules with names never cover an unnamed rule.
        no(Rule::verbs(&["get"]).groups(&[""]).resources(&["secrets"]));
        yes(Rule::verbs(&["get"]).urls(&["/apis/apps", "/apis/*"]));
        no(Rule::verbs(&["get"]).urls(&["/api"]));
        no(Rule::verbs(&["post"]).urls(&["/apis/x"]));
        // Full authority covers anything; anything covers nothing.
        assert!(covers(&full_authority(), &owner).0);
        assert!(!covers(&owner, &full_authority()).0);
        assert!(covers(&[], &[]).0);
        let (_, missing) = covers(
            &owner,
            &[Rule::verbs(&["get", "watch", "list"])
                .groups(&["", "apps"])
                .resources(&["configmaps"])],
        );
        assert_eq!(
            missing,
            vec![
                Rule::verbs(&["watch"]).groups(&[""]).resources(&["configmaps"]),
                Rule::verbs(&["get"]).groups(&["apps"]).resources(&["configmaps"]),
                Rule::verbs(&["watch"])
                    .groups(&["apps"])
                    .resources(&["configmaps"]),
                Rule::verbs(&["list"])
                    .groups(&["apps"])
                    .resources(&["configmaps"]),
            ]
        );
        assert_eq!(
            describe_missing(missing),
            "{APIGroups:[\"\"], Resources:[\"configmaps\"], Verbs:[\"watch\"]}\n\
             {APIGroups:[\"apps\"], Resources:[\"configmaps\"], Verbs:[\"get\" \"watch\" \"list\"]}"
        );
    }

    #[test]
    fn compact_strings_like_kube() {
        assert_eq!(
            compact_string(&Rule::verbs(&["get"]).groups(&[""]).resources(&["secrets"])),
            "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
        );
        assert_eq!(
            compact_string(&Rule::verbs(&["get"]).urls(&["/healthz"])),
            "{NonResourceURLs:[\"/healthz\"], Verbs:[\"get\"]}"
        );
        assert_eq!(
            compact_string(
                &Rule::verbs(&["get"])
                    .groups(&[""])
                    .resources(&["secrets"])
                    .names(&["a"])
            ),
            "{APIGroups:[\"\"], Resources:[\"secrets\"], ResourceNames:[\"a\"], Verbs:[\"get\"]}"
        );
    }

    #[test]
    fn policy_rules_round_trip() {
        let rule = Rule::verbs(&["get"]).groups(&[""]).resources(&["pods"]);
        let policy = rule.to_policy();
        assert_eq!(policy.non_resource_urls, None);
        assert_eq!(Rule::from_policy(&policy), rule);
    }
}
