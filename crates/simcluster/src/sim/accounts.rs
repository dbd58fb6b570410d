//! Service accounts, as kube's serviceaccount and tokens controllers: a `default` ServiceAccount in every
//! active namespace, and for every ServiceAccount a legacy token Secret (`kubernetes.io/service-account-token`
//! with the account's name and uid annotations and `token`, `ca.crt`, `namespace` data) listed in the
//! account's `secrets`. Token secrets of accounts that are gone are deleted; a token secret someone created
//! for an account gets its data filled in.
//!
//! The minted tokens are random: the simulated cluster's API server does not accept them (it has no
//! TokenReview); use the insecure port or `--token-auth-file` to authenticate.

use std::collections::BTreeMap;

use futures::FutureExt;
use k8s_openapi::{
    ByteString,
    api::core::v1::{Namespace, ObjectReference, Secret, ServiceAccount},
};
use kube::{ResourceExt, api::ObjectMeta};
use serde_json::json;

use super::{Item, Op, State, ops};
use crate::{
    cache::{Change, Key, key_of},
    names,
};

/// The secret type of legacy service account tokens.
pub const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming a token's service account.
pub const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The annotation holding a token's service account uid.
pub const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";

pub(super) fn namespace_changed(state: &mut State, (old, new): &Change<Namespace>) {
    if let Some(namespace) = new.as_ref().or(old.as_ref()) {
        state.dirty.namespaces.insert(namespace.name_any());
    }
}

pub(super) fn account_changed(state: &mut State, (old, new): &Change<ServiceAccount>) {
    let Some(key) = new.as_ref().or(old.as_ref()).map(key_of) else {
        return;
    };
    if key.1 == "default" {
        state.dirty.namespaces.insert(key.0.clone());
    }
    state.dirty.accounts.insert(key);
}

/// The `(namespace, name)` of the service account a token secret is for.
fn account_of(secret: &Secret) -> Option<Key> {
    let name = secret.annotations().get(NAME_ANNOTATION)?;
    Some((secret.namespace().unwrap_or_default(), name.clone()))
}

pub(super) fn secret_changed(state: &mut State, (old, new): &Change<Secret>) {
    if let Some(old) = old
        && let Some(account) = account_of(old)
        && let Some(tokens) = state.tokens.get_mut(&account)
    {
        tokens.remove(&key_of(old));
        if tokens.is_empty() {
            state.tokens.remove(&account);
        }
        state.dirty.accounts.insert(account);
    }
    if let Some(new) = new
        && let Some(account) = account_of(new)
    {
        state
            .tokens
            .entry(account.clone())
            .or_default()
            .insert(key_of(new));
        state.dirty.accounts.insert(account);
    }
}

/// Whether the namespace exists and is not terminating.
fn active(state: &State, namespace: &str) -> bool {
    state
        .namespaces
        .get(&(String::new(), namespace.to_owned()))
        .is_some_and(|ns| {
            ns.metadata.deletion_timestamp.is_none()
                && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
        })
}

/// Creates the `default` service account where it is missing.
pub(super) fn plan_namespaces(state: &mut State) -> Vec<Op> {
    if !state.namespaces.synced() || !state.accounts.synced() {
        return Vec::new();
    }
    let mut ops = Vec::new();
    for namespace in std::mem::take(&mut state.dirty.namespaces) {
        if !active(state, &namespace) {
            continue;
        }
        let key = (namespace.clone(), "default".to_owned());
        if state.accounts.get(&key).is_some() {
            continue;
        }
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".to_owned()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        ops.push(ops::create(&state.client, account, Item::Namespace(namespace)));
    }
    ops
}

/// A random token.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The data of a token secret for an account in `namespace`.
fn token_data(state: &State, namespace: &str) -> BTreeMap<String, ByteString> {
    BTreeMap::from([
        ("token".to_owned(), ByteString(random_token().into_bytes())),
        ("ca.crt".to_owned(), ByteString(state.config.ca_pem.clone())),
        ("namespace".to_owned(), ByteString(namespace.as_bytes().to_vec())),
    ])
}

/// Token secrets for the dirty service accounts.
pub(super) fn plan_accounts(state: &mut State) -> Vec<Op> {
    if !state.accounts.synced() || !state.secrets.synced() || !state.namespaces.synced() {
        return Vec::new();
    }
    let mut ops = Vec::new();
    for key in std::mem::take(&mut state.dirty.accounts) {
        let retry = Item::Account(key.clone());
        let secrets: Vec<Secret> = state
            .tokens
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|k| state.secrets.get(k).cloned())
            .collect();
        let account = state
            .accounts
            .get(&key)
            .filter(|a| a.metadata.deletion_timestamp.is_none())
            .cloned();
        let Some(account) = account.filter(|_| active(state, &key.0)) else {
            if state.accounts.get(&key).is_none() {
                for secret in secrets {
                    ops.push(ops::delete::<Secret>(
                        &state.client,
                        key_of(&secret),
                        secret.uid(),
                        retry.clone(),
                    ));
                }
            }
            continue;
        };
        let uid = account.uid().unwrap_or_default();
        let (mine, stale): (Vec<Secret>, Vec<Secret>) = secrets.into_iter().partition(|s| {
            s.annotations()
                .get(UID_ANNOTATION)
                .is_none_or(|u| u.is_empty() || *u == uid)
        });
        for secret in stale {
            ops.push(ops::delete::<Secret>(
                &state.client,
                key_of(&secret),
                secret.uid(),
                retry.clone(),
            ));
        }
        let listed = |name: &str| {
            account
                .secrets
                .iter()
                .flatten()
                .any(|r| r.name.as_deref() == Some(name))
        };
        let secret_patch = |account: &ServiceAccount, name: &str| {
            let mut list: Vec<ObjectReference> = account.secrets.clone().unwrap_or_default();
            list.push(ObjectReference {
                name: Some(name.to_owned()),
                ..ObjectReference::default()
            });
            json!({ "secrets": list })
        };
        match mine.first() {
            None => {
                let name = format!("{}-token-{}", names::name_prefix(&key.1), names::suffix(&uid, 0));
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(key.0.clone()),
                        annotations: Some(BTreeMap::from([
                            (NAME_ANNOTATION.to_owned(), key.1.clone()),
                            (UID_ANNOTATION.to_owned(), uid.clone()),
                        ])),
                        ..ObjectMeta::default()
                    },
                    type_: Some(TOKEN_TYPE.to_owned()),
                    data: Some(token_data(state, &key.0)),
                    ..Secret::default()
                };
                let patch = (!listed(&name)).then(|| secret_patch(&account, &name));
                let client = state.client.clone();
                let account_key = key.clone();
                ops.push(
                    async move {
                        let mut applies = ops::create_now(&client, secret, retry.clone()).await;
                        if let Some(patch) = patch {
                            applies.extend(
                                ops::patch::<ServiceAccount>(&client, account_key, false, patch, retry).await,
                            );
                        }
                        applies
                    }
                    .boxed(),
                );
            }
            Some(secret) => {
                let name = secret.name_any();
                let data = secret.data.clone().unwrap_or_default();
                let filled = data.get("token").is_some_and(|t| !t.0.is_empty())
                    && secret
                        .annotations()
                        .get(UID_ANNOTATION)
                        .is_some_and(|u| !u.is_empty());
                if !filled {
                    let mut data = token_data(state, &key.0);
                    if let Some(token) = secret
                        .data
                        .as_ref()
                        .and_then(|d| d.get("token"))
                        .filter(|t| !t.0.is_empty())
                    {
                        data.insert("token".to_owned(), token.clone());
                    }
                    let patch = json!({
                        "metadata": {"annotations": {UID_ANNOTATION: uid}},
                        "data": ops::to_json(&data),
                    });
                    let rv = secret.resource_version().unwrap_or_default();
                    ops.extend(state.patch_op::<Secret>(&key_of(secret), &rv, false, patch, retry.clone()));
                }
                if !listed(&name) {
                    let patch = secret_patch(&account, &name);
                    let rv = account.resource_version().unwrap_or_default();
                    ops.extend(state.patch_op::<ServiceAccount>(&key, &rv, false, patch, retry));
                }
            }
        }
    }
    ops
}
