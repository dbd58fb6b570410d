//! The simulator's view of one kind: fed by a watcher, and by the simulator's own write responses so that it
//! reads its writes before their watch events arrive.

use std::collections::{BTreeMap, HashMap};

use kube::{Resource, ResourceExt, runtime::watcher};

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub type Key = (String, String);

/// The key of `object`.
pub fn key_of<K: Resource>(object: &K) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

/// One change the cache took: the object before and after (`None` when absent).
pub type Change<K> = (Option<K>, Option<K>);

/// Objects of one kind by key.
///
/// Resource versions of the fcp apiserver are revisions (integers): an event or write response older than
/// what the cache holds is ignored, and so is an older event of an object the simulator deleted itself.
#[derive(Debug)]
pub struct Cache<K> {
    objects: BTreeMap<Key, K>,
    /// Objects deleted by the simulator, by the resource version they had, until their delete event.
    tombstones: HashMap<Key, u64>,
    /// Objects of a re-list in progress (between `Init` and `InitDone`).
    relist: Option<BTreeMap<Key, K>>,
    synced: bool,
}

impl<K> Default for Cache<K> {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            tombstones: HashMap::new(),
            relist: None,
            synced: false,
        }
    }
}

/// The resource version of `object` as a number, when it is one.
fn revision<K: Resource>(object: &K) -> Option<u64> {
    object.resource_version()?.parse().ok()
}

impl<K: Resource + Clone> Cache<K> {
    /// Whether the first list has been seen.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The object at `key`.
    pub fn get(&self, key: &Key) -> Option<&K> {
        self.objects.get(key)
    }

    /// Every object, in key order.
    pub fn values(&self) -> impl Iterator<Item = &K> {
        self.objects.values()
    }

    /// The objects of `namespace`, in name order.
    pub fn in_namespace<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a K> + 'a {
        let start = (namespace.to_owned(), String::new());
        let namespace = namespace.to_owned();
        self.objects
            .range(start..)
            .take_while(move |((ns, _), _)| *ns == namespace)
            .map(|(_, object)| object)
    }

    /// Takes one watcher event; returns the changes it made.
    pub fn observe(&mut self, event: watcher::Event<K>) -> Vec<Change<K>> {
        match event {
            watcher::Event::Init => {
                self.relist = Some(BTreeMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                let key = key_of(&object);
                match &mut self.relist {
                    Some(relist) => {
                        relist.insert(key, object);
                        Vec::new()
                    }
                    None => self.put(object).into_iter().collect(),
                }
            }
            watcher::Event::InitDone => {
                self.synced = true;
                let Some(relist) = self.relist.take() else {
                    return Vec::new();
                };
                self.tombstones.clear();
                let old = std::mem::take(&mut self.objects);
                let mut changes = Vec::new();
                for (key, before) in &old {
                    if !relist.contains_key(key) {
                        changes.push((Some(before.clone()), None));
                    }
                }
                for (key, after) in &relist {
                    let before = old.get(key);
                    if before.map(ResourceExt::resource_version) != Some(after.resource_version()) {
                        changes.push((before.cloned(), Some(after.clone())));
                    }
                }
                self.objects = relist;
                changes
            }
            watcher::Event::Apply(object) => self.put(object).into_iter().collect(),
            watcher::Event::Delete(object) => {
                let key = key_of(&object);
                // The delete of an earlier object of the same name leaves the current one alone.
                if let Some(current) = self.objects.get(&key)
                    && current.uid().is_some()
                    && object.uid().is_some()
                    && current.uid() != object.uid()
                {
                    return Vec::new();
                }
                self.tombstones.remove(&key);
                match self.objects.remove(&key) {
                    Some(before) => vec![(Some(before), None)],
                    None => Vec::new(),
                }
            }
        }
    }

    /// Stores `object` unless the cache holds a newer version (or the simulator deleted a newer one).
    pub fn put(&mut self, object: K) -> Option<Change<K>> {
        let key = key_of(&object);
        let incoming = revision(&object);
        if let (Some(dead), Some(incoming)) = (self.tombstones.get(&key), incoming) {
            if incoming <= *dead {
                return None;
            }
            self.tombstones.remove(&key);
        }
        if let Some(current) = self.objects.get(&key) {
            if current.resource_version() == object.resource_version() {
                return None;
            }
            if let (Some(held), Some(incoming)) = (revision(current), incoming)
                && incoming < held
            {
                return None;
            }
        }
        let before = self.objects.insert(key, object.clone());
        Some((before, Some(object)))
    }

    /// Forgets the object at `key`, which the simulator just deleted: older events of it are ignored.
    pub fn forget(&mut self, key: &Key) -> Option<Change<K>> {
        let before = self.objects.remove(key)?;
        if let Some(rv) = revision(&before) {
            self.tombstones.insert(key.clone(), rv);
        }
        Some((Some(before), None))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn cm(name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                uid: Some(format!("uid-{name}")),
                name: Some(name.to_owned()),
                namespace: Some("ns".to_owned()),
                resource_version: Some(rv.to_owned()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn older_versions_and_deleted_objects_are_ignored() {
        let mut cache = Cache::default();
        assert!(cache.put(cm("a", "5")).is_some());
        assert!(cache.put(cm("a", "4")).is_none(), "older");
        assert!(cache.put(cm("a", "5")).is_none(), "same");
        assert!(cache.forget(&("ns".into(), "a".into())).is_some());
        assert!(
            cache.put(cm("a", "5")).is_none(),
            "a stale event of a deleted object"
        );
        assert!(cache.put(cm("a", "9")).is_some(), "a new object of the same name");
    }

    #[test]
    fn the_delete_of_an_earlier_object_keeps_the_current_one() {
        let mut cache = Cache::default();
        let key = ("ns".to_owned(), "a".to_owned());
        cache.put(cm("a", "5"));
        cache.forget(&key);
        let mut again = cm("a", "7");
        again.metadata.uid = Some("uid-new".to_owned());
        assert!(cache.put(again).is_some());
        assert!(cache.observe(watcher::Event::Delete(cm("a", "6"))).is_empty());
        assert!(cache.get(&key).is_some());
    }

    #[test]
    fn relist_reports_the_differences() {
        let mut cache = Cache::default();
        cache.observe(watcher::Event::Init);
        cache.observe(watcher::Event::InitApply(cm("a", "1")));
        cache.observe(watcher::Event::InitApply(cm("b", "2")));
        assert_eq!(cache.observe(watcher::Event::InitDone).len(), 2);
        assert!(cache.synced());
        cache.observe(watcher::Event::Init);
        cache.observe(watcher::Event::InitApply(cm("a", "1")));
        cache.observe(watcher::Event::InitApply(cm("c", "3")));
        let changes = cache.observe(watcher::Event::InitDone);
        assert_eq!(changes.len(), 2, "b went, c came, a is unchanged");
        assert_eq!(cache.in_namespace("ns").count(), 2);
        assert_eq!(cache.in_namespace("other").count(), 0);
    }
}
