//! Per-kind behaviour of the generic store, as k8s.io/apiserver's `RESTCreateStrategy`/`RESTUpdateStrategy`.
//!
//! The store does everything that is the same for every kind (system metadata, object-meta validation, status
//! and generation rules, storage); a [`Strategy`] does what differs: decoding against the kind's schema,
//! defaulting and validation. Most kinds are a [`Typed`] strategy over their `k8s-openapi` type plus a
//! [`KindRules`] impl.

use std::marker::PhantomData;

use fcp_api::validation::{FieldError, NameRule};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// What differs between kinds. Implementations must be pure (no I/O) and must not keep state between calls.
pub trait Strategy: Send + Sync + 'static {
    /// Decodes `object` against the kind's schema and encodes it back: values of the wrong type are an error
    /// (the message says which), unknown fields are dropped, defaults are filled in. Runs on every write
    /// before anything else, so later steps see a well-formed object.
    ///
    /// # Errors
    /// A decode error message, which the store returns as 400 BadRequest.
    fn normalize(&self, object: Value) -> Result<Value, String>;

    /// Kind-specific validation of a created object. Object metadata is validated by the store.
    fn validate(&self, object: &Value) -> Vec<FieldError>;

    /// Kind-specific validation of an update (immutable fields and the like). Defaults to [`Self::validate`].
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let _ = old;
        self.validate(new)
    }

    /// Which names are valid for this kind.
    fn name_rule(&self) -> NameRule {
        NameRule::Dns1123Subdomain
    }

    /// Whether something besides `metadata.finalizers` keeps the object after a DELETE (a namespace's
    /// `spec.finalizers`). While it does, the object stays with a `deletionTimestamp`.
    fn holds_deletion(&self, object: &Value) -> bool {
        let _ = object;
        false
    }

    /// Changes made to an object when a DELETE starts its termination (a namespace's phase becomes
    /// `Terminating`).
    fn begin_termination(&self, object: &mut Value) {
        let _ = object;
    }

    /// The Table columns `kubectl get` prints for this kind (`meta.k8s.io` `TableColumnDefinition`s as
    /// JSON). The default is kube's generic pair: Name and Created At.
    fn table_columns(&self) -> Vec<Value> {
        default_table_columns()
    }

    /// The cells of one object's Table row, matching [`Strategy::table_columns`].
    fn table_row(&self, object: &Value) -> Vec<Value> {
        default_table_row(object)
    }
}

/// kube's default Table columns for kinds without their own printer.
#[must_use]
pub fn default_table_columns() -> Vec<Value> {
    vec![
        serde_json::json!({"name": "Name", "type": "string", "format": "name", "priority": 0,
            "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}),
        serde_json::json!({"name": "Created At", "type": "date", "format": "", "priority": 0,
            "description": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}),
    ]
}

/// The cells of [`default_table_columns`]: the name and the creation timestamp.
#[must_use]
pub fn default_table_row(object: &Value) -> Vec<Value> {
    vec![
        object["metadata"]["name"].clone(),
        object["metadata"]["creationTimestamp"].clone(),
    ]
}

/// Converts objects between a served version and the storage version of a resource that kube-apiserver serves
/// in more than one version over one storage (`autoscaling/v1` HPAs stored as `autoscaling/v2`). Both
/// directions are pure and total: they never fail, and drop what the target version cannot hold.
pub trait Conversion: Send + Sync + 'static {
    /// Served version -> storage version (`apiVersion`/`kind` set to the storage ones).
    fn to_storage(&self, object: Value) -> Value;
    /// Storage version -> served version (`apiVersion`/`kind` set to the served ones).
    // `from_storage` pairs with `to_storage`; the conversion is a method so it can sit behind `dyn Conversion`.
    #[allow(clippy::wrong_self_convention)]
    fn from_storage(&self, object: Value) -> Value;
}

/// Typed behaviour of one kind, on its `k8s-openapi` (or `fcp-api`) struct.
pub trait KindRules: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Which names are valid for this kind.
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// Fills in defaults as kube-apiserver does for this kind.
    fn apply_defaults(&mut self) {}

    /// Validates a new object (metadata excluded).
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// Validates an update against the previous object. Defaults to [`Self::validate`].
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let _ = old;
        self.validate()
    }

    /// See [`Strategy::holds_deletion`].
    fn holds_deletion(&self) -> bool {
        false
    }

    /// See [`Strategy::begin_termination`].
    fn begin_termination(&mut self) {}
}

/// The [`Strategy`] of a kind described by a typed struct `K`.
pub struct Typed<K>(PhantomData<fn() -> K>);

impl<K> Typed<K> {
    /// The strategy of kind `K`.
    #[must_use]
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<K> Default for Typed<K> {
    fn default() -> Self {
        Self::new()
    }
}

fn decode<K: DeserializeOwned>(object: &Value) -> Result<K, String> {
    K::deserialize(object).map_err(|e| e.to_string())
}

impl<K: KindRules> Strategy for Typed<K> {
    fn normalize(&self, object: Value) -> Result<Value, String> {
        let mut typed: K = decode(&object)?;
        typed.apply_defaults();
        serde_json::to_value(&typed).map_err(|e| e.to_string())
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        match decode::<K>(object) {
            Ok(typed) => typed.validate(),
            Err(e) => vec![FieldError::invalid("", None, &e)],
        }
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        match (decode::<K>(new), decode::<K>(old)) {
            (Ok(new), Ok(old)) => new.validate_update(&old),
            (Err(e), _) | (_, Err(e)) => vec![FieldError::invalid("", None, &e)],
        }
    }

    fn name_rule(&self) -> NameRule {
        K::NAME_RULE
    }

    fn holds_deletion(&self, object: &Value) -> bool {
        decode::<K>(object).is_ok_and(|typed| typed.holds_deletion())
    }

    fn begin_termination(&self, object: &mut Value) {
        if let Ok(mut typed) = decode::<K>(object) {
            typed.begin_termination();
            if let Ok(value) = serde_json::to_value(&typed) {
                *object = value;
            }
        }
    }
}
