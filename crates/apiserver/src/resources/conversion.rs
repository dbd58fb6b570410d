//! Conversions between the served versions and the storage version of resources that kube-apiserver serves in
//! more than one version over one storage: `autoscaling/v1` HorizontalPodAutoscalers (stored as
//! `autoscaling/v2`) and `events.k8s.io/v1` Events (stored as core `v1` Events).
//!
//! Objects are JSON as on the wire. Every function here is pure and total: it never panics, and a field that
//! is missing, `null` or of the wrong JSON type is left out of the result, as are fields the target version
//! does not have. A value that is not a JSON object is returned unchanged.
//!
//! The semantics are those of kubernetes `pkg/apis/autoscaling/v1/conversion.go` and
//! `pkg/apis/events/v1/conversion.go`; see [`HpaV1`] and [`EventsV1`] for the rules.

use serde_json::{Map, Value};

use crate::registry::Conversion;

/// `autoscaling/v1` HorizontalPodAutoscaler (served) <-> `autoscaling/v2` HorizontalPodAutoscaler (storage).
///
/// # Spec
/// - `scaleTargetRef`, `minReplicas`, `maxReplicas` and `metadata` are carried over unchanged.
/// - v2 -> v1: `targetCPUUtilizationPercentage` is the `averageUtilization` of the first metric of type
///   `Resource` on `cpu` whose target sets `averageUtilization` (whatever its `target.type`). Every such metric
///   is dropped from the rest; the remaining metrics go to [`METRIC_SPECS_ANNOTATION`] (if there are any) and a
///   `behavior` goes to [`BEHAVIOR_ANNOTATION`].
/// - v1 -> v2: `metrics` are those of [`METRIC_SPECS_ANNOTATION`] followed — last, as kube puts it — by
///   `{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: N}}}` when
///   `targetCPUUtilizationPercentage` is `N`. With neither, v2 has no `metrics`: the 80% CPU default that kube
///   applies in this conversion is left to defaulting. `behavior` is restored from [`BEHAVIOR_ANNOTATION`] unless
///   it sets neither `scaleUp` nor `scaleDown` (as kube does).
///
/// # Status
/// - `currentReplicas`, `desiredReplicas`, `lastScaleTime`, `observedGeneration` are carried over unchanged.
/// - v2 -> v1: `currentCPUUtilizationPercentage` is the `current.averageUtilization` of the last `Resource`
///   metric on `cpu` that has one. *All* current metrics, the CPU one included (to keep its raw value), go to
///   [`METRIC_STATUSES_ANNOTATION`] and the conditions to [`CONDITIONS_ANNOTATION`], each only if non-empty.
/// - v1 -> v2: `currentMetrics` are those of [`METRIC_STATUSES_ANNOTATION`] when it holds a JSON list (it is the
///   ground truth), else `{type: Resource, resource: {name: cpu, current: {averageUtilization: N}}}` when
///   `currentCPUUtilizationPercentage` is `N`. `conditions` come from [`CONDITIONS_ANNOTATION`].
///
/// # Annotations
/// v2 -> v1 first drops any round-trip annotation already on the stored object, so the only ones served are
/// those the conversion produced; v1 -> v2 reads them and drops them. An annotation that is not valid JSON of
/// the expected shape is ignored (and still dropped). An `annotations` map left empty is removed, and so is a
/// `metadata` that held nothing but round-trip annotations.
///
/// The annotations hold exactly what kube stores, so objects pass between fcp and kube-apiservers (and their
/// clients) either way:
/// - metrics and current metrics: a JSON list of `autoscaling/v1` `MetricSpec` / `MetricStatus`, the
///   v2beta1-style form (`pods: {metricName, targetAverageValue, selector}`, `object: {target, metricName,
///   targetValue, selector, averageValue}`, `resource: {name, targetAverageUtilization, targetAverageValue}`,
///   `containerResource: {.., container}`, `external: {metricName, metricSelector, targetValue,
///   targetAverageValue}`, and `current*` in place of `target*` for statuses);
/// - behavior: kube's internal `HorizontalPodAutoscalerBehavior` marshalled by Go without JSON tags, so with
///   the Go field names (`{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":
///   "Pods","Value":4,"PeriodSeconds":15}]},"ScaleDown":..}`);
/// - conditions: a JSON list of conditions (`type`, `status`, `lastTransitionTime`, `reason`, `message`).
///
/// When reading the annotations, keys match as Go's `encoding/json` matches them (exactly, else
/// ASCII-case-insensitively) and `null` means absent. A metric target's `type`, which the v1 form does not
/// hold, is inferred as kube infers it: `pods` -> `AverageValue`; `object` -> `AverageValue` if `averageValue`
/// is set, else `Value`; `external` -> `Value` if `targetValue` is set, else `AverageValue`;
/// `resource`/`containerResource` -> `Utilization` if a utilization is set, else `AverageValue`.
///
/// One deliberate difference: Go's v1 types hold some quantities as non-pointers, so kube writes `"0"` for a
/// missing one (e.g. `targetValue` of an `AverageValue` object metric) and reads a missing one as `"0"`. Here a
/// missing quantity is written as nothing and read as nothing. Annotations written by kube are read as kube
/// reads them (they always carry those fields); annotations written here round-trip exactly.
///
/// # Round trips
/// - v1 -> v2 -> v1 is exact for a v1 object whose round-trip annotations are absent or were produced by
///   [`Conversion::from_storage`].
/// - v2 -> v1 -> v2 is exact for an object in which, as in kube: every metric target's `type` names the field
///   that is set, the CPU-utilization target (if any) is unique and is the last metric, the fields v1 has no
///   room for are unset (`value`/`averageUtilization` of a `pods` target, `averageUtilization` of an
///   `object`/`external` target, `value` of a `resource` target, and likewise for current values), and a
///   `behavior` sets `scaleUp` or `scaleDown`. Otherwise metrics are reordered with the CPU target last and
///   those fields are lost, exactly as in kube.
#[derive(Debug, Clone, Copy, Default)]
pub struct HpaV1;

/// `events.k8s.io/v1` Event (served) <-> core `v1` Event (storage).
///
/// A pure renaming, as in kube: core `involvedObject` <-> `regarding`, `message` <-> `note`,
/// `reportingComponent` <-> `reportingController`, `source` <-> `deprecatedSource`, `firstTimestamp` <->
/// `deprecatedFirstTimestamp`, `lastTimestamp` <-> `deprecatedLastTimestamp`, `count` <-> `deprecatedCount`;
/// `metadata`, `related`, `reason`, `type`, `action`, `eventTime`, `reportingInstance` and `series`
/// (`count`, `lastObservedTime`) keep their names. Nothing is derived: kube does not, for instance, fill
/// `reportingController` from `source.component`. Both directions are lossless for every field the two
/// versions have.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventsV1;

/// The annotation of a served `autoscaling/v1` HPA holding the v2 metrics other than the CPU-utilization one.
pub const METRIC_SPECS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// The annotation of a served `autoscaling/v1` HPA holding all v2 current metrics.
pub const METRIC_STATUSES_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// The annotation of a served `autoscaling/v1` HPA holding the v2 status conditions.
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// The annotation of a served `autoscaling/v1` HPA holding the v2 scaling behavior.
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

const HPA_KIND: &str = "HorizontalPodAutoscaler";
const EVENT_KIND: &str = "Event";

impl Conversion for HpaV1 {
    fn to_storage(&self, object: Value) -> Value {
        hpa_v1_to_v2(object)
    }

    fn from_storage(&self, object: Value) -> Value {
        hpa_v2_to_v1(object)
    }
}

impl Conversion for EventsV1 {
    fn to_storage(&self, object: Value) -> Value {
        convert_event(object, Direction::ToCore)
    }

    fn from_storage(&self, object: Value) -> Value {
        convert_event(object, Direction::ToEvents)
    }
}

type Object = Map<String, Value>;

/// A JSON object being taken apart: each `take` removes a field and yields it if it has the expected type.
struct Fields {
    map: Object,
    /// Match keys as Go's `encoding/json` does (exactly, else ASCII-case-insensitively), for annotations;
    /// wire objects match exactly, as kube-apiserver's decoder does.
    fold_case: bool,
}

impl Fields {
    fn exact(map: Object) -> Self {
        Self {
            map,
            fold_case: false,
        }
    }

    /// The fields of `value` if it is an object.
    fn of(value: Value, fold_case: bool) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { map, fold_case }),
            _ => None,
        }
    }

    /// The field `key` unless it is missing or `null`.
    fn take(&mut self, key: &str) -> Option<Value> {
        let value = match self.map.remove(key) {
            Some(value) => value,
            None if self.fold_case => {
                let found = self.map.keys().find(|k| k.eq_ignore_ascii_case(key))?.clone();
                self.map.remove(&found)?
            }
            None => return None,
        };
        (!value.is_null()).then_some(value)
    }

    fn string(&mut self, key: &str) -> Option<Value> {
        self.take(key).filter(Value::is_string)
    }

    fn int32(&mut self, key: &str) -> Option<Value> {
        self.take(key).filter(is_int32)
    }

    fn int64(&mut self, key: &str) -> Option<Value> {
        self.take(key).filter(|v| v.as_i64().is_some())
    }

    /// An object, carried over as it is.
    fn object(&mut self, key: &str) -> Option<Value> {
        self.take(key).filter(Value::is_object)
    }

    fn object_map(&mut self, key: &str) -> Option<Object> {
        match self.take(key)? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// An object to take apart in turn (matching keys the same way).
    fn fields(&mut self, key: &str) -> Option<Fields> {
        let fold_case = self.fold_case;
        Self::of(self.take(key)?, fold_case)
    }

    /// Like [`Fields::fields`], with a missing or mistyped object read as empty.
    fn fields_or_empty(&mut self, key: &str) -> Fields {
        let fold_case = self.fold_case;
        self.fields(key).unwrap_or(Self {
            map: Object::new(),
            fold_case,
        })
    }

    /// The objects of a list, as fields; elements that are not objects are left out.
    fn list(&mut self, key: &str) -> Option<Vec<Fields>> {
        let fold_case = self.fold_case;
        match self.take(key)? {
            Value::Array(items) => Some(
                items
                    .into_iter()
                    .filter_map(|item| Self::of(item, fold_case))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// A resource quantity: a string, or a JSON number (which kube also accepts) as its decimal text.
    fn quantity(&mut self, key: &str) -> Option<Value> {
        match self.take(key)? {
            value @ Value::String(_) => Some(value),
            Value::Number(n) => Some(Value::String(n.to_string())),
            _ => None,
        }
    }
}

fn is_int32(value: &Value) -> bool {
    value.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
}

/// A JSON object being built; absent values are left out.
#[derive(Default)]
struct Out(Object);

impl Out {
    fn header(api_version: &str, kind: &str) -> Self {
        let mut out = Self::default();
        out.set("apiVersion", Some(api_version.into()));
        out.set("kind", Some(kind.into()));
        out
    }

    fn set(&mut self, key: impl Into<String>, value: Option<Value>) {
        if let Some(value) = value {
            self.0.insert(key.into(), value);
        }
    }

    fn with(mut self, key: impl Into<String>, value: Option<Value>) -> Self {
        self.set(key, value);
        self
    }

    fn build(self) -> Value {
        Value::Object(self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// HorizontalPodAutoscaler

/// The values of the four round-trip annotations (each a JSON document in a string).
#[derive(Default)]
struct RoundTrip {
    metrics: Option<String>,
    current_metrics: Option<String>,
    conditions: Option<String>,
    behavior: Option<String>,
}

impl RoundTrip {
    /// Removes the round-trip annotations from `metadata` and returns those that are strings. An annotations
    /// value that is not an object, or is left empty, is removed; so is a metadata object left empty by the
    /// removal of round-trip annotations (it held nothing else).
    fn take(metadata: &mut Option<Object>) -> Self {
        let Some(meta) = metadata else {
            return Self::default();
        };
        let mut round_trip = Self::default();
        let mut removed = false;
        let keep = match meta.get_mut("annotations") {
            Some(Value::Object(annotations)) => {
                let mut take = |key: &str| match annotations.remove(key) {
                    Some(Value::String(value)) => {
                        removed = true;
                        Some(value)
                    }
                    Some(_) => {
                        removed = true;
                        None
                    }
                    None => None,
                };
                round_trip = Self {
                    metrics: take(METRIC_SPECS_ANNOTATION),
                    current_metrics: take(METRIC_STATUSES_ANNOTATION),
                    conditions: take(CONDITIONS_ANNOTATION),
                    behavior: take(BEHAVIOR_ANNOTATION),
                };
                !annotations.is_empty()
            }
            Some(_) => false,
            None => true,
        };
        if !keep {
            meta.remove("annotations");
        }
        if removed && meta.is_empty() {
            *metadata = None;
        }
        round_trip
    }

    /// Adds the annotations that are set to `metadata`, creating it and its annotations as needed. Expects
    /// `metadata` to have been through [`RoundTrip::take`].
    fn put(self, metadata: &mut Option<Object>) {
        let entries: Vec<(&str, String)> = [
            (METRIC_SPECS_ANNOTATION, self.metrics),
            (METRIC_STATUSES_ANNOTATION, self.current_metrics),
            (CONDITIONS_ANNOTATION, self.conditions),
            (BEHAVIOR_ANNOTATION, self.behavior),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
        if entries.is_empty() {
            return;
        }
        let metadata = metadata.get_or_insert_with(Object::new);
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Object::new()));
        if !annotations.is_object() {
            *annotations = Value::Object(Object::new());
        }
        if let Value::Object(annotations) = annotations {
            for (key, value) in entries {
                annotations.insert(key.to_owned(), Value::String(value));
            }
        }
    }
}

/// Parses a list annotation as kube does: a JSON list, or `null` for an empty one; anything else is ignored.
fn parse_list(annotation: Option<String>) -> Option<Vec<Fields>> {
    match serde_json::from_str(annotation.as_deref()?).ok()? {
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| Fields::of(item, true))
                .collect(),
        ),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

fn non_empty(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

/// The `averageUtilization` under `field` (`target` or `current`) of a `Resource` metric on `cpu`.
fn cpu_utilization(metric: &Fields, field: &str) -> Option<Value> {
    if metric.map.get("type")?.as_str()? != "Resource" {
        return None;
    }
    let resource = metric.map.get("resource")?;
    if resource.get("name")?.as_str()? != "cpu" {
        return None;
    }
    let utilization = resource.get(field)?.get("averageUtilization")?;
    is_int32(utilization).then(|| utilization.clone())
}

fn hpa_v2_to_v1(object: Value) -> Value {
    let Value::Object(map) = object else {
        return object;
    };
    let mut src = Fields::exact(map);
    let mut metadata = src.object_map("metadata");
    // Pre-existing round-trip annotations are dropped: the only ones served are those produced here.
    RoundTrip::take(&mut metadata);
    let mut round_trip = RoundTrip::default();

    let spec = src.fields("spec").map(|mut spec| {
        let mut out = Out::default()
            .with("scaleTargetRef", spec.object("scaleTargetRef"))
            .with("minReplicas", spec.int32("minReplicas"))
            .with("maxReplicas", spec.int32("maxReplicas"));
        let mut cpu = None;
        let mut others = Vec::new();
        for metric in spec.list("metrics").unwrap_or_default() {
            match cpu_utilization(&metric, "target") {
                Some(utilization) => {
                    cpu.get_or_insert(utilization);
                }
                None => others.push(metric_spec_to_v1(metric)),
            }
        }
        out.set("targetCPUUtilizationPercentage", cpu);
        round_trip.metrics = non_empty(others).map(|metrics| metrics.to_string());
        round_trip.behavior = spec
            .fields("behavior")
            .map(|behavior| convert_behavior(behavior, Case::Pascal).to_string());
        out.build()
    });

    let status = src.fields("status").map(|mut status| {
        let mut out = Out::default()
            .with("observedGeneration", status.int64("observedGeneration"))
            .with("lastScaleTime", status.string("lastScaleTime"))
            .with("currentReplicas", status.int32("currentReplicas"))
            .with("desiredReplicas", status.int32("desiredReplicas"));
        let mut cpu = None;
        let mut current = Vec::new();
        for metric in status.list("currentMetrics").unwrap_or_default() {
            if let Some(utilization) = cpu_utilization(&metric, "current") {
                cpu = Some(utilization);
            }
            current.push(metric_status_to_v1(metric));
        }
        out.set("currentCPUUtilizationPercentage", cpu);
        round_trip.current_metrics = non_empty(current).map(|metrics| metrics.to_string());
        let conditions = status.list("conditions").unwrap_or_default();
        round_trip.conditions = non_empty(conditions.into_iter().map(condition).collect())
            .map(|conditions| conditions.to_string());
        out.build()
    });

    round_trip.put(&mut metadata);
    Out::header("autoscaling/v1", HPA_KIND)
        .with("metadata", metadata.map(Value::Object))
        .with("spec", spec)
        .with("status", status)
        .build()
}

fn hpa_v1_to_v2(object: Value) -> Value {
    let Value::Object(map) = object else {
        return object;
    };
    let mut src = Fields::exact(map);
    let mut metadata = src.object_map("metadata");
    let round_trip = RoundTrip::take(&mut metadata);

    let mut spec_in = src.fields("spec");
    let mut metrics: Vec<Value> = parse_list(round_trip.metrics)
        .unwrap_or_default()
        .into_iter()
        .map(metric_spec_from_v1)
        .collect();
    if let Some(cpu) = spec_in
        .as_mut()
        .and_then(|spec| spec.int32("targetCPUUtilizationPercentage"))
    {
        metrics.push(cpu_metric(
            "target",
            metric_target("Utilization", None, None, Some(cpu)),
        ));
    }
    let behavior = round_trip
        .behavior
        .and_then(|behavior| serde_json::from_str(&behavior).ok())
        .and_then(|behavior| Fields::of(behavior, true))
        .map(|behavior| convert_behavior(behavior, Case::Camel))
        .filter(|behavior| behavior.as_object().is_some_and(|b| !b.is_empty()));
    let metrics = non_empty(metrics);
    let spec = if spec_in.is_some() || metrics.is_some() || behavior.is_some() {
        let mut spec_in = spec_in.unwrap_or_else(|| Fields::exact(Object::new()));
        Some(
            Out::default()
                .with("scaleTargetRef", spec_in.object("scaleTargetRef"))
                .with("minReplicas", spec_in.int32("minReplicas"))
                .with("maxReplicas", spec_in.int32("maxReplicas"))
                .with("metrics", metrics)
                .with("behavior", behavior)
                .build(),
        )
    } else {
        None
    };

    let mut status_in = src.fields("status");
    let cpu = status_in
        .as_mut()
        .and_then(|status| status.int32("currentCPUUtilizationPercentage"));
    // The annotation, when it parses, is the ground truth (it holds the CPU metric's raw value too).
    let current_metrics = match parse_list(round_trip.current_metrics) {
        Some(metrics) => non_empty(metrics.into_iter().map(metric_status_from_v1).collect()),
        None => cpu.map(|cpu| {
            Value::Array(vec![cpu_metric(
                "current",
                metric_value_status(None, None, Some(cpu)),
            )])
        }),
    };
    let conditions = parse_list(round_trip.conditions)
        .and_then(|conditions| non_empty(conditions.into_iter().map(condition).collect()));
    let status = if status_in.is_some() || current_metrics.is_some() || conditions.is_some() {
        let mut status_in = status_in.unwrap_or_else(|| Fields::exact(Object::new()));
        Some(
            Out::default()
                .with("observedGeneration", status_in.int64("observedGeneration"))
                .with("lastScaleTime", status_in.string("lastScaleTime"))
                .with("currentReplicas", status_in.int32("currentReplicas"))
                .with("desiredReplicas", status_in.int32("desiredReplicas"))
                .with("currentMetrics", current_metrics)
                .with("conditions", conditions)
                .build(),
        )
    } else {
        None
    };

    Out::header("autoscaling/v2", HPA_KIND)
        .with("metadata", metadata.map(Value::Object))
        .with("spec", spec)
        .with("status", status)
        .build()
}

/// `{type: Resource, resource: {name: cpu, <field>: <value>}}`: a CPU target (`field` = `target`) or current
/// value (`field` = `current`).
fn cpu_metric(field: &str, value: Value) -> Value {
    let resource = Out::default()
        .with("name", Some("cpu".into()))
        .with(field, Some(value));
    Out::default()
        .with("type", Some("Resource".into()))
        .with("resource", Some(resource.build()))
        .build()
}

/// An HPA condition; the same fields in v1 (annotation) and v2.
fn condition(mut condition: Fields) -> Value {
    Out::default()
        .with("type", condition.string("type"))
        .with("status", condition.string("status"))
        .with("lastTransitionTime", condition.string("lastTransitionTime"))
        .with("reason", condition.string("reason"))
        .with("message", condition.string("message"))
        .build()
}

/// A v2 `MetricIdentifier`.
fn metric_identifier(name: Option<Value>, selector: Option<Value>) -> Value {
    Out::default()
        .with("name", name)
        .with("selector", selector)
        .build()
}

/// A v2 `MetricTarget`.
fn metric_target(
    kind: &str,
    value: Option<Value>,
    average_value: Option<Value>,
    average_utilization: Option<Value>,
) -> Value {
    Out::default()
        .with("type", Some(kind.into()))
        .with("value", value)
        .with("averageValue", average_value)
        .with("averageUtilization", average_utilization)
        .build()
}

/// A v2 `MetricValueStatus`.
fn metric_value_status(
    value: Option<Value>,
    average_value: Option<Value>,
    average_utilization: Option<Value>,
) -> Value {
    Out::default()
        .with("value", value)
        .with("averageValue", average_value)
        .with("averageUtilization", average_utilization)
        .build()
}

/// A v2 `MetricSpec` -> the `autoscaling/v1` `MetricSpec` form of [`METRIC_SPECS_ANNOTATION`].
fn metric_spec_to_v1(mut metric: Fields) -> Value {
    let mut out = Out::default().with("type", metric.string("type"));
    if let Some(mut source) = metric.fields("object") {
        let (mut id, mut target) = (source.fields_or_empty("metric"), source.fields_or_empty("target"));
        let object = Out::default()
            .with("target", source.object("describedObject"))
            .with("metricName", id.string("name"))
            .with("targetValue", target.quantity("value"))
            .with("selector", id.object("selector"))
            .with("averageValue", target.quantity("averageValue"));
        out.set("object", Some(object.build()));
    }
    if let Some(mut source) = metric.fields("pods") {
        let (mut id, mut target) = (source.fields_or_empty("metric"), source.fields_or_empty("target"));
        let pods = Out::default()
            .with("metricName", id.string("name"))
            .with("targetAverageValue", target.quantity("averageValue"))
            .with("selector", id.object("selector"));
        out.set("pods", Some(pods.build()));
    }
    for key in ["resource", "containerResource"] {
        if let Some(mut source) = metric.fields(key) {
            let mut target = source.fields_or_empty("target");
            let resource = Out::default()
                .with("name", source.string("name"))
                .with("targetAverageUtilization", target.int32("averageUtilization"))
                .with("targetAverageValue", target.quantity("averageValue"))
                .with("container", source.string("container"));
            out.set(key, Some(resource.build()));
        }
    }
    if let Some(mut source) = metric.fields("external") {
        let (mut id, mut target) = (source.fields_or_empty("metric"), source.fields_or_empty("target"));
        let external = Out::default()
            .with("metricName", id.string("name"))
            .with("metricSelector", id.object("selector"))
            .with("targetValue", target.quantity("value"))
            .with("targetAverageValue", target.quantity("averageValue"));
        out.set("external", Some(external.build()));
    }
    out.build()
}

/// The `autoscaling/v1` `MetricSpec` form of [`METRIC_SPECS_ANNOTATION`] -> a v2 `MetricSpec`.
fn metric_spec_from_v1(mut metric: Fields) -> Value {
    let mut out = Out::default().with("type", metric.string("type"));
    if let Some(mut source) = metric.fields("object") {
        let value = source.quantity("targetValue");
        let average_value = source.quantity("averageValue");
        let kind = if average_value.is_some() {
            "AverageValue"
        } else {
            "Value"
        };
        let object = Out::default()
            .with("describedObject", source.object("target"))
            .with(
                "metric",
                Some(metric_identifier(
                    source.string("metricName"),
                    source.object("selector"),
                )),
            )
            .with("target", Some(metric_target(kind, value, average_value, None)));
        out.set("object", Some(object.build()));
    }
    if let Some(mut source) = metric.fields("pods") {
        let average_value = source.quantity("targetAverageValue");
        let pods = Out::default()
            .with(
                "metric",
                Some(metric_identifier(
                    source.string("metricName"),
                    source.object("selector"),
                )),
            )
            .with(
                "target",
                Some(metric_target("AverageValue", None, average_value, None)),
            );
        out.set("pods", Some(pods.build()));
    }
    for key in ["resource", "containerResource"] {
        if let Some(mut source) = metric.fields(key) {
            let utilization = source.int32("targetAverageUtilization");
            let average_value = source.quantity("targetAverageValue");
            let kind = if utilization.is_some() {
                "Utilization"
            } else {
                "AverageValue"
            };
            let resource = Out::default()
                .with("name", source.string("name"))
                .with("container", source.string("container"))
                .with(
                    "target",
                    Some(metric_target(kind, None, average_value, utilization)),
                );
            out.set(key, Some(resource.build()));
        }
    }
    if let Some(mut source) = metric.fields("external") {
        let value = source.quantity("targetValue");
        let average_value = source.quantity("targetAverageValue");
        // Unlike `object`, kube infers an external target's type from its value.
        let kind = if value.is_some() { "Value" } else { "AverageValue" };
        let external = Out::default()
            .with(
                "metric",
                Some(metric_identifier(
                    source.string("metricName"),
                    source.object("metricSelector"),
                )),
            )
            .with("target", Some(metric_target(kind, value, average_value, None)));
        out.set("external", Some(external.build()));
    }
    out.build()
}

/// A v2 `MetricStatus` -> the `autoscaling/v1` `MetricStatus` form of [`METRIC_STATUSES_ANNOTATION`].
fn metric_status_to_v1(mut metric: Fields) -> Value {
    let mut out = Out::default().with("type", metric.string("type"));
    if let Some(mut source) = metric.fields("object") {
        let (mut id, mut current) = (
            source.fields_or_empty("metric"),
            source.fields_or_empty("current"),
        );
        let object = Out::default()
            .with("target", source.object("describedObject"))
            .with("metricName", id.string("name"))
            .with("currentValue", current.quantity("value"))
            .with("selector", id.object("selector"))
            .with("averageValue", current.quantity("averageValue"));
        out.set("object", Some(object.build()));
    }
    if let Some(mut source) = metric.fields("pods") {
        let (mut id, mut current) = (
            source.fields_or_empty("metric"),
            source.fields_or_empty("current"),
        );
        let pods = Out::default()
            .with("metricName", id.string("name"))
            .with("currentAverageValue", current.quantity("averageValue"))
            .with("selector", id.object("selector"));
        out.set("pods", Some(pods.build()));
    }
    for key in ["resource", "containerResource"] {
        if let Some(mut source) = metric.fields(key) {
            let mut current = source.fields_or_empty("current");
            let resource = Out::default()
                .with("name", source.string("name"))
                .with("currentAverageUtilization", current.int32("averageUtilization"))
                .with("currentAverageValue", current.quantity("averageValue"))
                .with("container", source.string("container"));
            out.set(key, Some(resource.build()));
        }
    }
    if let Some(mut source) = metric.fields("external") {
        let (mut id, mut current) = (
            source.fields_or_empty("metric"),
            source.fields_or_empty("current"),
        );
        let external = Out::default()
            .with("metricName", id.string("name"))
            .with("metricSelector", id.object("selector"))
            .with("currentValue", current.quantity("value"))
            .with("currentAverageValue", current.quantity("averageValue"));
        out.set("external", Some(external.build()));
    }
    out.build()
}

/// The `autoscaling/v1` `MetricStatus` form of [`METRIC_STATUSES_ANNOTATION`] -> a v2 `MetricStatus`.
fn metric_status_from_v1(mut metric: Fields) -> Value {
    let mut out = Out::default().with("type", metric.string("type"));
    if let Some(mut source) = metric.fields("object") {
        let value = source.quantity("currentValue");
        let average_value = source.quantity("averageValue");
        let object = Out::default()
            .with("describedObject", source.object("target"))
            .with(
                "metric",
                Some(metric_identifier(
                    source.string("metricName"),
                    source.object("selector"),
                )),
            )
            .with("current", Some(metric_value_status(value, average_value, None)));
        out.set("object", Some(object.build()));
    }
    if let Some(mut source) = metric.fields("pods") {
        let average_value = source.quantity("currentAverageValue");
        let pods = Out::default()
            .with(
                "metric",
                Some(metric_identifier(
                    source.string("metricName"),
                    source.object("selector"),
                )),
            )
            .with("current", Some(metric_value_status(None, average_value, None)));
        out.set("pods", Some(pods.build()));
    }
    for key in ["resource", "containerResource"] {
        if let Some(mut source) = metric.fields(key) {
            let utilization = source.int32("currentAverageUtilization");
            let average_value = source.quantity("currentAverageValue");
            let resource = Out::default()
                .with("name", source.string("name"))
                .with("container", source.string("container"))
                .with(
                    "current",
                    Some(metric_value_status(None, average_value, utilization)),
                );
            out.set(key, Some(resource.build()));
        }
    }
    if let Some(mut source) = metric.fields("external") {
        let value = source.quantity("currentValue");
        let average_value = source.quantity("currentAverageValue");
        let external = Out::default()
            .with(
                "metric",
                Some(metric_identifier(
                    source.string("metricName"),
                    source.object("metricSelector"),
                )),
            )
            .with("current", Some(metric_value_status(value, average_value, None)));
        out.set("external", Some(external.build()));
    }
    out.build()
}

/// The case of the keys of a written behavior.
#[derive(Clone, Copy)]
enum Case {
    /// The v2 JSON field names (`scaleUp`).
    Camel,
    /// The Go field names of [`BEHAVIOR_ANNOTATION`] (`ScaleUp`).
    Pascal,
}

impl Case {
    /// `name` (a camelCase v2 field name) in this case.
    fn key(self, name: &str) -> String {
        match self {
            Self::Camel => name.to_owned(),
            Self::Pascal => {
                let mut chars = name.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
        }
    }
}

/// An HPA `behavior`, rewritten with its keys in `case` (read keys match as `behavior`'s fields match).
fn convert_behavior(mut behavior: Fields, case: Case) -> Value {
    let mut out = Out::default();
    for direction in ["scaleUp", "scaleDown"] {
        out.set(
            case.key(direction),
            behavior.fields(direction).map(|rules| scaling_rules(rules, case)),
        );
    }
    out.build()
}

fn scaling_rules(mut rules: Fields, case: Case) -> Value {
    let policies = rules.list("policies").map(|policies| {
        let policies = policies.into_iter().map(|mut policy| {
            Out::default()
                .with(case.key("type"), policy.string("type"))
                .with(case.key("value"), policy.int32("value"))
                .with(case.key("periodSeconds"), policy.int32("periodSeconds"))
                .build()
        });
        Value::Array(policies.collect())
    });
    Out::default()
        .with(
            case.key("stabilizationWindowSeconds"),
            rules.int32("stabilizationWindowSeconds"),
        )
        .with(case.key("selectPolicy"), rules.string("selectPolicy"))
        .with(case.key("policies"), policies)
        .with(case.key("tolerance"), rules.quantity("tolerance"))
        .build()
}

// ---------------------------------------------------------------------------------------------------------
// Event

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// core `v1` -> `events.k8s.io/v1`.
    ToEvents,
    /// `events.k8s.io/v1` -> core `v1`.
    ToCore,
}

/// The JSON type of an Event field.
#[derive(Clone, Copy)]
enum Shape {
    String,
    Int32,
    /// An object carried over as it is.
    Object,
    /// An `EventSeries` (`count`, `lastObservedTime`; the same in both versions).
    Series,
}

/// Every Event field: its core `v1` name, its `events.k8s.io/v1` name and its type.
const EVENT_FIELDS: [(&str, &str, Shape); 15] = [
    ("metadata", "metadata", Shape::Object),
    ("involvedObject", "regarding", Shape::Object),
    ("related", "related", Shape::Object),
    ("message", "note", Shape::String),
    ("reason", "reason", Shape::String),
    ("type", "type", Shape::String),
    ("action", "action", Shape::String),
    ("eventTime", "eventTime", Shape::String),
    ("series", "series", Shape::Series),
    ("reportingComponent", "reportingController", Shape::String),
    ("reportingInstance", "reportingInstance", Shape::String),
    ("source", "deprecatedSource", Shape::Object),
    ("firstTimestamp", "deprecatedFirstTimestamp", Shape::String),
    ("lastTimestamp", "deprecatedLastTimestamp", Shape::String),
    ("count", "deprecatedCount", Shape::Int32),
];

fn convert_event(object: Value, direction: Direction) -> Value {
    let Value::Object(map) = object else {
        return object;
    };
    let mut src = Fields::exact(map);
    let mut out = match direction {
        Direction::ToEvents => Out::header("events.k8s.io/v1", EVENT_KIND),
        Direction::ToCore => Out::header("v1", EVENT_KIND),
    };
    for (core, events, shape) in EVENT_FIELDS {
        let (from, to) = match direction {
            Direction::ToEvents => (core, events),
            Direction::ToCore => (events, core),
        };
        let value = match shape {
            Shape::String => src.string(from),
            Shape::Int32 => src.int32(from),
            Shape::Object => src.object(from),
            Shape::Series => src.fields(from).map(|mut series| {
                Out::default()
                    .with("count", series.int32("count"))
                    .with("lastObservedTime", series.string("lastObservedTime"))
                    .build()
            }),
        };
        out.set(to, value);
    }
    out.build()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
    use k8s_openapi::api::core::v1 as core_v1;
    use k8s_openapi::api::events::v1 as events_v1;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use super::*;

    fn typed<T: DeserializeOwned>(value: &Value) -> T {
        match serde_json::from_value(value.clone()) {
            Ok(typed) => typed,
            Err(error) => panic!("{error}: {value:#}"),
        }
    }

    /// The annotation `key` of `object`, parsed.
    fn annotation(object: &Value, key: &str) -> Option<Value> {
        let text = object["metadata"]["annotations"].get(key)?.as_str()?;
        Some(serde_json::from_str(text).expect("annotation is JSON"))
    }

    fn ingress() -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main-route"})
    }

    /// A v2 HPA using every metric source, behavior and conditions, in the canonical form (see [`HpaV1`]).
    fn rich_v2() -> Value {
        json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": "web", "namespace": "default", "uid": "1f0e", "resourceVersion": "7", "generation": 3,
                "labels": {"app": "web"}, "annotations": {"owner": "team-a"},
            },
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Pods", "pods": {
                        "metric": {"name": "packets-per-second", "selector": {"matchLabels": {"tier": "web"}}},
                        "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Object", "object": {
                        "describedObject": ingress(),
                        "metric": {"name": "requests-per-second"},
                        "target": {"type": "Value", "value": "10k"}}},
                    {"type": "Object", "object": {
                        "describedObject": ingress(),
                        "metric": {"name": "latency", "selector": {"matchLabels": {"path": "api"}}},
                        "target": {"type": "AverageValue", "averageValue": "500m"}}},
                    {"type": "External", "external": {
                        "metric": {"name": "queue_messages_ready", "selector": {"matchLabels": {"queue": "tasks"}}},
                        "target": {"type": "AverageValue", "averageValue": "30"}}},
                    {"type": "External", "external": {
                        "metric": {"name": "backlog"},
                        "target": {"type": "Value", "value": "100"}}},
                    {"type": "Resource", "resource": {
                        "name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                    {"type": "ContainerResource", "containerResource": {
                        "name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {
                        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                ],
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 0,
                        "selectPolicy": "Max",
                        "policies": [
                            {"type": "Pods", "value": 4, "periodSeconds": 15},
                            {"type": "Percent", "value": 100, "periodSeconds": 15},
                        ],
                        "tolerance": "50m",
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                    },
                },
            },
            "status": {
                "observedGeneration": 3,
                "lastScaleTime": "2024-05-01T10:00:00Z",
                "currentReplicas": 3,
                "desiredReplicas": 4,
                "currentMetrics": [
                    {"type": "Resource", "resource": {
                        "name": "cpu", "current": {"averageUtilization": 62, "averageValue": "124m"}}},
                    {"type": "Pods", "pods": {
                        "metric": {"name": "packets-per-second", "selector": {"matchLabels": {"tier": "web"}}},
                        "current": {"averageValue": "900"}}},
                    {"type": "Object", "object": {
                        "describedObject": ingress(),
                        "metric": {"name": "requests-per-second"},
                        "current": {"value": "9k"}}},
                    {"type": "Object", "object": {
                        "describedObject": ingress(),
                        "metric": {"name": "latency", "selector": {"matchLabels": {"path": "api"}}},
                        "current": {"averageValue": "450m"}}},
                    {"type": "External", "external": {
                        "metric": {"name": "queue_messages_ready", "selector": {"matchLabels": {"queue": "tasks"}}},
                        "current": {"averageValue": "25"}}},
                    {"type": "External", "external": {
                        "metric": {"name": "backlog"}, "current": {"value": "80"}}},
                    {"type": "ContainerResource", "containerResource": {
                        "name": "cpu", "container": "app", "current": {"averageUtilization": 55, "averageValue": "110m"}}},
                ],
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-05-01T09:00:00Z",
                     "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
                    {"type": "ScalingActive", "status": "True", "lastTransitionTime": "2024-05-01T09:00:00Z",
                     "reason": "ValidMetricFound", "message": "the HPA was able to compute the replica count"},
                ],
            },
        })
    }

    #[test]
    fn hpa_v2_to_v1_vectors() {
        let v1 = HpaV1.from_storage(rich_v2());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["kind"], "HorizontalPodAutoscaler");
        assert_eq!(
            v1["spec"],
            json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "targetCPUUtilizationPercentage": 50,
            })
        );
        assert_eq!(
            v1["status"],
            json!({
                "observedGeneration": 3,
                "lastScaleTime": "2024-05-01T10:00:00Z",
                "currentReplicas": 3,
                "desiredReplicas": 4,
                "currentCPUUtilizationPercentage": 62,
            })
        );
        // Metadata is unchanged but for the round-trip annotations.
        let mut metadata = v1["metadata"].clone();
        let annotations = metadata["annotations"].as_object_mut().expect("annotations");
        assert_eq!(annotations.len(), 5);
        annotations.retain(|key, _| key == "owner");
        assert_eq!(metadata, rich_v2()["metadata"]);

        assert_eq!(
            annotation(&v1, METRIC_SPECS_ANNOTATION),
            Some(json!([
                {"type": "Pods", "pods": {
                    "metricName": "packets-per-second", "selector": {"matchLabels": {"tier": "web"}},
                    "targetAverageValue": "1k"}},
                {"type": "Object", "object": {
                    "target": ingress(), "metricName": "requests-per-second", "targetValue": "10k"}},
                {"type": "Object", "object": {
                    "target": ingress(), "metricName": "latency", "selector": {"matchLabels": {"path": "api"}},
                    "averageValue": "500m"}},
                {"type": "External", "external": {
                    "metricName": "queue_messages_ready", "metricSelector": {"matchLabels": {"queue": "tasks"}},
                    "targetAverageValue": "30"}},
                {"type": "External", "external": {"metricName": "backlog", "targetValue": "100"}},
                {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "500Mi"}},
                {"type": "ContainerResource", "containerResource": {
                    "name": "cpu", "container": "app", "targetAverageUtilization": 60}},
            ]))
        );
        assert_eq!(
            annotation(&v1, METRIC_STATUSES_ANNOTATION),
            Some(json!([
                {"type": "Resource", "resource": {
                    "name": "cpu", "currentAverageUtilization": 62, "currentAverageValue": "124m"}},
                {"type": "Pods", "pods": {
                    "metricName": "packets-per-second", "selector": {"matchLabels": {"tier": "web"}},
                    "currentAverageValue": "900"}},
                {"type": "Object", "object": {
                    "target": ingress(), "metricName": "requests-per-second", "currentValue": "9k"}},
                {"type": "Object", "object": {
                    "target": ingress(), "metricName": "latency", "selector": {"matchLabels": {"path": "api"}},
                    "averageValue": "450m"}},
                {"type": "External", "external": {
                    "metricName": "queue_messages_ready", "metricSelector": {"matchLabels": {"queue": "tasks"}},
                    "currentAverageValue": "25"}},
                {"type": "External", "external": {"metricName": "backlog", "currentValue": "80"}},
                {"type": "ContainerResource", "containerResource": {
                    "name": "cpu", "container": "app", "currentAverageUtilization": 55,
                    "currentAverageValue": "110m"}},
            ]))
        );
        assert_eq!(
            annotation(&v1, BEHAVIOR_ANNOTATION),
            Some(json!({
                "ScaleUp": {
                    "StabilizationWindowSeconds": 0,
                    "SelectPolicy": "Max",
                    "Policies": [
                        {"Type": "Pods", "Value": 4, "PeriodSeconds": 15},
                        {"Type": "Percent", "Value": 100, "PeriodSeconds": 15},
                    ],
                    "Tolerance": "50m",
                },
                "ScaleDown": {
                    "StabilizationWindowSeconds": 300,
                    "Policies": [{"Type": "Percent", "Value": 100, "PeriodSeconds": 15}],
                },
            }))
        );
        assert_eq!(
            annotation(&v1, CONDITIONS_ANNOTATION),
            Some(rich_v2()["status"]["conditions"].clone())
        );
    }

    #[test]
    fn hpa_round_trips_are_lossless() {
        let v2 = rich_v2();
        let v1 = HpaV1.from_storage(v2.clone());
        assert_eq!(HpaV1.to_storage(v1.clone()), v2, "v2 -> v1 -> v2");
        assert_eq!(
            HpaV1.from_storage(HpaV1.to_storage(v1.clone())),
            v1,
            "v1 -> v2 -> v1"
        );

        // A plain v1 object, without annotations.
        let plain = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70,
            },
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40},
        });
        let stored = HpaV1.to_storage(plain.clone());
        let served = HpaV1.from_storage(stored.clone());
        // The CPU current metric is also kept in the annotation, as kube does; without it the object is the same.
        assert_eq!(
            annotation(&served, METRIC_STATUSES_ANNOTATION),
            Some(json!([{"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 40}}]))
        );
        let mut without = served.clone();
        without["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove("annotations");
        assert_eq!(without, plain);
        assert_eq!(HpaV1.to_storage(served), stored);

        // Minimal objects.
        for v2 in [
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}),
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {},
                   "spec": {}, "status": {}}),
        ] {
            assert_eq!(HpaV1.to_storage(HpaV1.from_storage(v2.clone())), v2);
        }
    }

    #[test]
    fn hpa_v1_to_v2_vectors() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": {"owner": "team-a"}},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "maxReplicas": 5, "targetCPUUtilizationPercentage": 70,
            },
            "status": {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 40,
                       "observedGeneration": 9, "lastScaleTime": "2024-05-01T10:00:00Z"},
        });
        assert_eq!(
            HpaV1.to_storage(v1),
            json!({
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web", "annotations": {"owner": "team-a"}},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                    "maxReplicas": 5,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
                },
                "status": {
                    "currentReplicas": 2, "desiredReplicas": 3, "observedGeneration": 9,
                    "lastScaleTime": "2024-05-01T10:00:00Z",
                    "currentMetrics": [{"type": "Resource", "resource": {
                        "name": "cpu", "current": {"averageUtilization": 40}}}],
                },
            })
        );

        // No target and no other metrics: no metrics (the 80% default is defaulting's business).
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}});
        let v2 = HpaV1.to_storage(v1.clone());
        assert_eq!(
            v2["spec"],
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5})
        );
        assert_eq!(HpaV1.from_storage(v2), v1);
    }

    /// Annotations as kube-apiserver writes them (Go's zero quantities, the behavior with Go field names and
    /// nulls) are read as kube reads them.
    #[test]
    fn hpa_reads_annotations_written_by_kube() {
        let metrics = r#"[{"type":"Object","object":{"target":{"kind":"Ingress","name":"main-route","apiVersion":"networking.k8s.io/v1"},"metricName":"latency","targetValue":"0","averageValue":"500m"}},{"type":"Pods","pods":{"metricName":"pps","targetAverageValue":"1k"}},{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]"#;
        let current = r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":62,"currentAverageValue":"124m"}},{"type":"External","external":{"metricName":"backlog","currentValue":"80"}}]"#;
        let behavior = r#"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":null}"#;
        let conditions = r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2024-05-01T09:00:00Z","reason":"ReadyForNewScale","message":"ok"}]"#;
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": {
                METRIC_SPECS_ANNOTATION: metrics,
                METRIC_STATUSES_ANNOTATION: current,
                BEHAVIOR_ANNOTATION: behavior,
                CONDITIONS_ANNOTATION: conditions,
            }},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5,
                     "targetCPUUtilizationPercentage": 50},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 99},
        });
        let v2 = HpaV1.to_storage(v1);
        assert_eq!(
            v2["metadata"],
            json!({"name": "web"}),
            "round-trip annotations are dropped"
        );
        assert_eq!(
            v2["spec"]["metrics"],
            json!([
                {"type": "Object", "object": {
                    "describedObject": ingress(), "metric": {"name": "latency"},
                    "target": {"type": "AverageValue", "value": "0", "averageValue": "500m"}}},
                {"type": "Pods", "pods": {
                    "metric": {"name": "pps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                {"type": "Resource", "resource": {
                    "name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                // The CPU target comes last.
                {"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            ])
        );
        assert_eq!(
            v2["spec"]["behavior"],
            json!({"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                               "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]}})
        );
        // The annotation wins over currentCPUUtilizationPercentage.
        assert_eq!(
            v2["status"]["currentMetrics"],
            json!([
                {"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": 62, "averageValue": "124m"}}},
                {"type": "External", "external": {"metric": {"name": "backlog"}, "current": {"value": "80"}}},
            ])
        );
        assert_eq!(
            v2["status"]["conditions"],
            json!([{"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-05-01T09:00:00Z",
                    "reason": "ReadyForNewScale", "message": "ok"}])
        );
        let _: hpa_v2::HorizontalPodAutoscaler = typed(&v2);
    }

    /// The target type, which v1 does not hold, is inferred per source as kube infers it.
    #[test]
    fn hpa_target_type_inference() {
        let metrics = json!([
            {"type": "Object", "object": {"metricName": "a"}},
            {"type": "Object", "object": {"metricName": "b", "targetValue": "1", "averageValue": "2"}},
            {"type": "External", "external": {"metricName": "c"}},
            {"type": "External", "external": {"metricName": "d", "targetValue": "1", "targetAverageValue": "2"}},
            {"type": "Pods", "pods": {"metricName": "e"}},
            {"type": "Resource", "resource": {"name": "memory"}},
            {"type": "ContainerResource", "containerResource": {
                "name": "cpu", "container": "c", "targetAverageUtilization": 50}},
        ]);
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                        "metadata": {"annotations": {METRIC_SPECS_ANNOTATION: metrics.to_string()}}});
        let v2 = HpaV1.to_storage(v1);
        let types: Vec<&str> = v2["spec"]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .map(|m| {
                let kind = m["type"].as_str().expect("type");
                let source = kind[..1].to_lowercase() + &kind[1..];
                m[source]["target"]["type"].as_str().expect("target type")
            })
            .collect();
        assert_eq!(
            types,
            [
                "Value",
                "AverageValue",
                "AverageValue",
                "Value",
                "AverageValue",
                "AverageValue",
                "Utilization"
            ]
        );
    }

    #[test]
    fn hpa_annotation_keys_match_case_insensitively() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"annotations": {
                METRIC_SPECS_ANNOTATION: r#"[{"TYPE":"Pods","Pods":{"metricname":"pps","TargetAverageValue":"1"}}]"#,
                BEHAVIOR_ANNOTATION: r#"{"scaleDown":{"selectpolicy":"Min"}}"#,
            }},
        });
        assert_eq!(
            HpaV1.to_storage(v1)["spec"],
            json!({
                "metrics": [{"type": "Pods", "pods": {
                    "metric": {"name": "pps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}],
                "behavior": {"scaleDown": {"selectPolicy": "Min"}},
            })
        );
    }

    #[test]
    fn hpa_cpu_target_rules() {
        let cpu = |utilization: i64, kind: &str| {
            json!({"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": kind, "averageUtilization": utilization}}})
        };
        let pods = json!({"type": "Pods", "pods": {"metric": {"name": "pps"},
                                                   "target": {"type": "AverageValue", "averageValue": "1"}}});
        let v2 = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "spec": {"metrics": [cpu(30, "Utilization"), pods, cpu(40, "AverageValue")]},
        });
        let v1 = HpaV1.from_storage(v2);
        // The first CPU utilization target wins, whatever its target type; the others are dropped.
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 30);
        assert_eq!(
            annotation(&v1, METRIC_SPECS_ANNOTATION),
            Some(json!([{"type": "Pods", "pods": {"metricName": "pps", "targetAverageValue": "1"}}]))
        );
        // Back in v2 the CPU target is last, as kube puts it.
        assert_eq!(
            HpaV1.to_storage(v1)["spec"]["metrics"],
            json!([pods, cpu(30, "Utilization")])
        );

        // The current CPU utilization is the last one.
        let current = |utilization: i64| json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": utilization}}});
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                        "status": {"desiredReplicas": 1, "currentMetrics": [current(10), current(20)]}});
        let v1 = HpaV1.from_storage(v2.clone());
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 20);
        assert_eq!(HpaV1.to_storage(v1), v2);

        // A memory utilization target or a CPU value target is not the CPU utilization target.
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": {"metrics": [
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 60}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "AverageValue", "averageValue": "200m"}}},
        ]}});
        let v1 = HpaV1.from_storage(v2.clone());
        assert_eq!(v1["spec"], json!({}));
        assert_eq!(HpaV1.to_storage(v1), v2);
    }

    #[test]
    fn hpa_stale_and_invalid_annotations() {
        // Round-trip annotations on a stored object are replaced by those of the conversion.
        let mut v2 = rich_v2();
        v2["spec"].as_object_mut().expect("spec").remove("behavior");
        v2["metadata"]["annotations"] = json!({BEHAVIOR_ANNOTATION: "{\"ScaleUp\":{}}", "owner": "team-a"});
        let v1 = HpaV1.from_storage(v2);
        assert_eq!(annotation(&v1, BEHAVIOR_ANNOTATION), None);

        // ...and an annotation map that only held them is removed.
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                        "metadata": {"name": "a", "annotations": {CONDITIONS_ANNOTATION: "[]"}}});
        assert_eq!(HpaV1.from_storage(v2)["metadata"], json!({"name": "a"}));
        for (metadata, expected) in [
            (json!({"annotations": {}}), Some(json!({}))),
            (json!({"annotations": {BEHAVIOR_ANNOTATION: 1}}), None),
        ] {
            let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": metadata});
            assert_eq!(HpaV1.to_storage(v1).get("metadata"), expected.as_ref());
        }

        // Invalid annotations are ignored, and dropped.
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "a", "annotations": {
                METRIC_SPECS_ANNOTATION: "not json",
                METRIC_STATUSES_ANNOTATION: "{}",
                BEHAVIOR_ANNOTATION: "[]",
                CONDITIONS_ANNOTATION: 7,
            }},
            "spec": {"targetCPUUtilizationPercentage": 50},
            "status": {"currentCPUUtilizationPercentage": 20},
        });
        assert_eq!(
            HpaV1.to_storage(v1),
            json!({
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "a"},
                "spec": {"metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
                "status": {"currentMetrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": 20}}}]},
            })
        );

        // A behavior setting neither direction is not restored, as in kube; a null current-metrics list
        // clears the CPU current metric, as in kube.
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"annotations": {BEHAVIOR_ANNOTATION: "{\"ScaleUp\":null}",
                                         METRIC_STATUSES_ANNOTATION: "null"}},
            "status": {"currentCPUUtilizationPercentage": 20},
        });
        assert_eq!(
            HpaV1.to_storage(v1),
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "status": {}})
        );
    }

    #[test]
    fn hpa_drops_unknown_and_mistyped_fields() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "bogus": 1,
            "metadata": {"name": "a", "annotations": "not a map"},
            "spec": {"maxReplicas": "ten", "minReplicas": 4_294_967_296_i64, "metrics": [],
                     "targetCPUUtilizationPercentage": 1.5, "scaleTargetRef": "web"},
            "status": {"desiredReplicas": 2, "currentMetrics": []},
        });
        assert_eq!(
            HpaV1.to_storage(v1),
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "a"},
                   "spec": {}, "status": {"desiredReplicas": 2}})
        );
        // Quantities given as JSON numbers are carried as their text.
        let v2 = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": {"metrics": [
            {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": 100}}},
        ]}});
        assert_eq!(
            annotation(&HpaV1.from_storage(v2), METRIC_SPECS_ANNOTATION),
            Some(json!([{"type": "External", "external": {"metricName": "q", "targetValue": "100"}}]))
        );
    }

    #[test]
    fn hpa_outputs_decode_as_typed_objects() {
        let v1 = HpaV1.from_storage(rich_v2());
        let typed_v1: hpa_v1::HorizontalPodAutoscaler = typed(&v1);
        assert_eq!(typed_v1.spec.target_cpu_utilization_percentage, Some(50));
        let v2 = HpaV1.to_storage(v1);
        let typed_v2: hpa_v2::HorizontalPodAutoscaler = typed(&v2);
        let expected: hpa_v2::HorizontalPodAutoscaler = typed(&rich_v2());
        assert_eq!(typed_v2, expected);
        assert_eq!(typed_v2.spec.metrics.map(|m| m.len()), Some(8));
    }

    fn core_event() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "web.17b", "namespace": "default", "resourceVersion": "12"},
            "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                               "namespace": "default", "uid": "u1", "fieldPath": "spec"},
            "related": {"kind": "ReplicaSet", "name": "web-5d4"},
            "reason": "ScalingReplicaSet",
            "message": "Scaled up replica set web-5d4 to 3",
            "source": {"component": "deployment-controller", "host": "node-1"},
            "firstTimestamp": "2024-05-01T09:00:00Z",
            "lastTimestamp": "2024-05-01T10:00:00Z",
            "count": 4,
            "type": "Normal",
            "eventTime": "2024-05-01T10:00:00.123456Z",
            "series": {"count": 2, "lastObservedTime": "2024-05-01T10:00:00.123456Z"},
            "action": "Scale",
            "reportingComponent": "deployment-controller",
            "reportingInstance": "controller-0",
        })
    }

    fn events_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web.17b", "namespace": "default", "resourceVersion": "12"},
            "regarding": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                          "namespace": "default", "uid": "u1", "fieldPath": "spec"},
            "related": {"kind": "ReplicaSet", "name": "web-5d4"},
            "reason": "ScalingReplicaSet",
            "note": "Scaled up replica set web-5d4 to 3",
            "deprecatedSource": {"component": "deployment-controller", "host": "node-1"},
            "deprecatedFirstTimestamp": "2024-05-01T09:00:00Z",
            "deprecatedLastTimestamp": "2024-05-01T10:00:00Z",
            "deprecatedCount": 4,
            "type": "Normal",
            "eventTime": "2024-05-01T10:00:00.123456Z",
            "series": {"count": 2, "lastObservedTime": "2024-05-01T10:00:00.123456Z"},
            "action": "Scale",
            "reportingController": "deployment-controller",
            "reportingInstance": "controller-0",
        })
    }

    #[test]
    fn event_vectors_and_round_trips() {
        assert_eq!(EventsV1.from_storage(core_event()), events_event());
        assert_eq!(EventsV1.to_storage(events_event()), core_event());
        assert_eq!(
            EventsV1.to_storage(EventsV1.from_storage(core_event())),
            core_event()
        );
        assert_eq!(
            EventsV1.from_storage(EventsV1.to_storage(events_event())),
            events_event()
        );
    }

    #[test]
    fn event_derives_nothing() {
        // kube does not fill reportingController from source.component.
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "a"},
                          "source": {"component": "kubelet"}, "message": "m"});
        assert_eq!(
            EventsV1.from_storage(core),
            json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "a"},
                   "deprecatedSource": {"component": "kubelet"}, "note": "m"})
        );
    }

    #[test]
    fn event_drops_unknown_and_mistyped_fields() {
        let events = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": "x", "regarding": [], "note": 5, "deprecatedCount": 3_000_000_000_i64,
            "series": {"count": "2", "lastObservedTime": "2024-05-01T10:00:00Z", "state": "Ongoing"},
            "eventTime": null, "message": "a core field name", "bogus": true,
        });
        assert_eq!(
            EventsV1.to_storage(events),
            json!({"apiVersion": "v1", "kind": "Event",
                   "series": {"lastObservedTime": "2024-05-01T10:00:00Z"}})
        );
    }

    #[test]
    fn event_outputs_decode_as_typed_objects() {
        let events: events_v1::Event = typed(&EventsV1.from_storage(core_event()));
        assert_eq!(events.note.as_deref(), Some("Scaled up replica set web-5d4 to 3"));
        assert_eq!(events.deprecated_count, Some(4));
        let core: core_v1::Event = typed(&EventsV1.to_storage(events_event()));
        assert_eq!(core.reporting_component.as_deref(), Some("deployment-controller"));
        assert_eq!(core.involved_object.name.as_deref(), Some("web"));
        let expected: core_v1::Event = typed(&core_event());
        assert_eq!(core, expected);
    }

    /// JSON pointers to every value inside `value`.
    fn pointers(value: &Value, prefix: &str, out: &mut Vec<String>) {
        out.push(prefix.to_owned());
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    pointers(child, &format!("{prefix}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    pointers(child, &format!("{prefix}/{index}"), out);
                }
            }
            _ => {}
        }
    }

    fn garbage() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(u64::MAX),
            json!("x"),
            json!("not json"),
            json!("null"),
            json!("{}"),
            json!("[1, \"a\", null, {}]"),
            json!("[{\"type\": 5, \"pods\": \"x\", \"resource\": {\"name\": []}}]"),
            json!("{\"ScaleUp\": 1, \"scaleDown\": {\"Policies\": [1, {\"Value\": \"x\"}]}}"),
            json!([]),
            json!([1, "a", null]),
            json!({}),
            json!({"type": "Resource", "resource": {"name": "cpu"}}),
        ]
    }

    /// Every conversion and chain of two, applied to `object`; returns nothing but must not panic.
    fn convert_all(conversion: &dyn Conversion, object: &Value) {
        for out in [
            conversion.to_storage(object.clone()),
            conversion.from_storage(object.clone()),
            conversion.from_storage(conversion.to_storage(object.clone())),
            conversion.to_storage(conversion.from_storage(object.clone())),
        ] {
            if object.is_object() {
                assert!(out["apiVersion"].is_string() && out["kind"].is_string(), "{out}");
            } else {
                assert_eq!(&out, object);
            }
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        let hpa_v1 = HpaV1.from_storage(rich_v2());
        let cases: [(&dyn Conversion, Vec<Value>); 2] = [
            (&HpaV1, vec![rich_v2(), hpa_v1]),
            (&EventsV1, vec![core_event(), events_event()]),
        ];
        for (conversion, objects) in cases {
            for object in objects {
                let mut paths = Vec::new();
                pointers(&object, "", &mut paths);
                for path in paths {
                    for garbage in garbage() {
                        let mut broken = object.clone();
                        if let Some(slot) = broken.pointer_mut(&path) {
                            *slot = garbage;
                        }
                        convert_all(conversion, &broken);
                    }
                }
            }
        }
    }
}
