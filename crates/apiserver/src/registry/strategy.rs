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

    /// Changes kube's `PrepareForCreate` (and `Canonicalize`) make to a new object once the store has set its
    /// system metadata: called on create after `metadata.name` (also a generated one), `uid` and
    /// `creationTimestamp` are set and before [`Strategy::validate`]. Idempotent, so the store may call it
    /// again for each generated-name attempt. Examples: a namespace gets the `kubernetes` finalizer and the
    /// `kubernetes.io/metadata.name` label; a Job without `manualSelector` gets its `controller-uid`
    /// selector and template labels (they need the uid).
    fn prepare_for_create(&self, object: &mut Value) {
        let _ = object;
    }

    /// Changes kube's `PrepareForUpdate` makes to a main-resource update (not `/status`, not `/finalize`):
    /// called after the store has carried over the old status and system metadata, before
    /// [`Strategy::validate_update`]. Example: a namespace keeps its old `spec.finalizers` (only `/finalize`
    /// changes them).
    fn prepare_for_update(&self, object: &mut Value, old: &Value) {
        let _ = (object, old);
    }

    /// Checks one field of a `fieldSelector` (kube's per-kind field-label conversion). `Err` carries kube's
    /// exact message, which the caller returns as 400 BadRequest. The default accepts `metadata.name` and
    /// `metadata.namespace` only, with kube's `DefaultMetaV1FieldSelectorConversion` message.
    ///
    /// # Errors
    /// The 400 message when `field` is not selectable for this kind.
    fn check_field_selector(&self, field: &str) -> Result<(), String> {
        default_check_field_selector(field)
    }

    /// The value of a selectable `field` on `object` (an object as served from this resource, i.e. in its
    /// served version), as kube's `GetAttrs` field set gives it: absent strings are `""`, integers in decimal.
    /// `None` for a field [`Strategy::check_field_selector`] rejects. Feed it to `FieldSelector::matches`.
    fn field_value(&self, object: &Value, field: &str) -> Option<String> {
        default_field_value(object, field)
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

/// kube's `DefaultMetaV1FieldSelectorConversion`: only `metadata.name` and `metadata.namespace`.
///
/// # Errors
/// `"<field>" is not a known field selector: only "metadata.name", "metadata.namespace"`.
pub fn default_check_field_selector(field: &str) -> Result<(), String> {
    match field {
        "metadata.name" | "metadata.namespace" => Ok(()),
        _ => Err(format!(
            "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        )),
    }
}

/// `metadata.name` and `metadata.namespace` of `object` (`""` when absent); `None` for other fields.
#[must_use]
pub fn default_field_value(object: &Value, field: &str) -> Option<String> {
    let key = match field {
        "metadata.name" => "name",
        "metadata.namespace" => "namespace",
        _ => return None,
    };
    Some(object["metadata"][key].as_str().unwrap_or_default().to_owned())
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

    /// See [`Strategy::prepare_for_create`]; `self` has its name, uid and creation timestamp.
    fn prepare_for_create(&mut self) {}

    /// See [`Strategy::prepare_for_update`].
    fn prepare_for_update(&mut self, old: &Self) {
        let _ = old;
    }

    /// See [`Strategy::check_field_selector`].
    ///
    /// # Errors
    /// The 400 message when `field` is not selectable for this kind.
    fn check_field_selector(field: &str) -> Result<(), String> {
        default_check_field_selector(field)
    }

    /// See [`Strategy::field_value`]; works on the JSON object so that matching needs no decoding.
    fn field_value(object: &Value, field: &str) -> Option<String> {
        default_field_value(object, field)
    }

    /// See [`Strategy::table_columns`].
    fn table_columns() -> Vec<Value> {
        default_table_columns()
    }

    /// The cells of this object's Table row, for [`KindRules::table_columns`]; `now` is the time ages are
    /// measured to.
    fn table_row(&self, object: &Value, now: jiff::Timestamp) -> Vec<Value> {
        let _ = now;
        default_table_row(object)
    }
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

    fn prepare_for_create(&self, object: &mut Value) {
        if let Ok(mut typed) = decode::<K>(object) {
            typed.prepare_for_create();
            if let Ok(value) = serde_json::to_value(&typed) {
                *object = value;
            }
        }
    }

    fn prepare_for_update(&self, object: &mut Value, old: &Value) {
        if let (Ok(mut typed), Ok(old)) = (decode::<K>(object), decode::<K>(old)) {
            typed.prepare_for_update(&old);
            if let Ok(value) = serde_json::to_value(&typed) {
                *object = value;
            }
        }
    }

    fn check_field_selector(&self, field: &str) -> Result<(), String> {
        K::check_field_selector(field)
    }

    fn field_value(&self, object: &Value, field: &str) -> Option<String> {
        K::field_value(object, field)
    }

    fn table_columns(&self) -> Vec<Value> {
        K::table_columns()
    }

    /// A row from the typed object; an object that does not decode (never the case for stored objects) gets
    /// its name and empty cells.
    fn table_row(&self, object: &Value) -> Vec<Value> {
        match decode::<K>(object) {
            Ok(typed) => typed.table_row(object, jiff::Timestamp::now()),
            Err(_) => {
                let mut row = vec![object["metadata"]["name"].clone()];
                row.resize(K::table_columns().len(), Value::Null);
                row
            }
        }
    }
}
