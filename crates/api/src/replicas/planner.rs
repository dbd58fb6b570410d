//! v1's replica planner (`util/planner/planner.go`, reference §3.6): how many of a workload's replicas
//! each cluster should run, reproduced step for step so plans (tie-breaks included) are identical.
//!
//! 1. Each available cluster takes its own preference, else `"*"`'s; a cluster with neither is planned 0
//!    and takes no further part.
//! 2. Preferences are ordered by weight (descending), then by the 32-bit FNV-1 hash of the cluster name
//!    followed by the workload key (ascending), so single replicas do not always land on the
//!    alphabetically first cluster.
//! 3. In that order each cluster gets `min(MinReplicas, remaining, capacity)`.
//! 4. Without rebalancing, a cluster already running more than planned keeps up to
//!    `min(current, MaxReplicas, capacity)` ("preallocated").
//! 5. Rounds until nothing is left or nothing changes: the rest is split by weight among the clusters
//!    still open, rounding up, preallocated replicas counting first; a cluster reaching MaxReplicas or
//!    its capacity closes, the excess over capacity is recorded as overflow.
//! 6. Without rebalancing, overflow is trimmed to the replicas that could not be placed anywhere.
//!
//! Results equal v1's for every input where v1's `int64` arithmetic does not overflow and no weight is
//! negative. On the inputs v1 never meant to accept this port differs deliberately: the weighted share is
//! computed without overflow (Go's `remaining*weight` wraps), sums saturate instead of wrapping, and a
//! negative weight gets a share of 0 (v1 computes a negative share, taking replicas back, with no
//! termination guarantee). Ordering still uses the raw weight, as v1 does.

use std::collections::BTreeMap;

use super::preferences::{ClusterPreferences, ReplicaAllocationPreferences};

/// FNV-1 32-bit offset basis.
const FNV32_OFFSET_BASIS: u32 = 0x811c_9dc5;
/// FNV-1 32-bit prime.
const FNV32_PRIME: u32 = 0x0100_0193;

/// The 32-bit FNV-1 hash of `data` (multiply, then xor — not FNV-1a): Go's `hash/fnv.New32`.
#[must_use]
pub fn fnv1_32(data: &[u8]) -> u32 {
    fnv1_32_extend(FNV32_OFFSET_BASIS, data)
}

/// Continues an FNV-1 hash with more bytes: `fnv1_32_extend(fnv1_32(a), b) == fnv1_32(a ++ b)`.
#[must_use]
pub fn fnv1_32_extend(hash: u32, data: &[u8]) -> u32 {
    data.iter()
        .fold(hash, |h, byte| h.wrapping_mul(FNV32_PRIME) ^ u32::from(*byte))
}

/// The planner's result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Replicas per cluster; every available cluster has an entry, those without any applicable
    /// preference with 0.
    pub replicas: BTreeMap<String, i64>,
    /// Extra replicas worth scheduling where the estimated capacity was exceeded (they may yet start
    /// there); only positive entries.
    pub overflow: BTreeMap<String, i64>,
}

/// A preference bound to a cluster, with its tie-break hash.
struct Candidate<'a> {
    cluster: &'a str,
    hash: u32,
    preferences: ClusterPreferences,
}

impl Candidate<'_> {
    /// The weight the arithmetic uses: negative weights count as 0 (see the module doc).
    fn weight(&self) -> i64 {
        self.preferences.weight.max(0)
    }
}

/// Distributes `total_replicas` over `available_clusters` (v1's `Planner.Plan`).
///
/// * `current_replicas`: replicas running per cluster now (only consulted when `rebalance` is false);
/// * `estimated_capacity`: clusters known to fit no more than this many (from unschedulable pods);
/// * `replica_set_key`: the workload's `namespace/name`, mixed into the tie-break hash.
///
/// Clusters listed more than once are planned as v1 plans them (the last pass over a name wins).
#[must_use]
pub fn plan(
    preferences: &ReplicaAllocationPreferences,
    total_replicas: i64,
    available_clusters: &[String],
    current_replicas: &BTreeMap<String, i64>,
    estimated_capacity: &BTreeMap<String, i64>,
    replica_set_key: &str,
) -> Plan {
    let mut planned: BTreeMap<String, i64> = BTreeMap::new();
    let mut overflow: BTreeMap<String, i64> = BTreeMap::new();

    let mut candidates: Vec<Candidate<'_>> = Vec::with_capacity(available_clusters.len());
    for cluster in available_clusters {
        match preferences.preference_for(cluster) {
            Some(cluster_preferences) => candidates.push(Candidate {
                cluster,
                hash: fnv1_32_extend(fnv1_32(cluster.as_bytes()), replica_set_key.as_bytes()),
                preferences: *cluster_preferences,
            }),
            None => {
                planned.insert(cluster.clone(), 0);
            }
        }
    }
    // Go sorts by raw weight; ties on (weight, hash) only arise for a repeated cluster name.
    candidates.sort_by(|a, b| {
        b.preferences
            .weight
            .cmp(&a.preferences.weight)
            .then(a.hash.cmp(&b.hash))
    });

    let capacity_of = |cluster: &str| estimated_capacity.get(cluster).copied();
    let mut remaining = total_replicas;

    // Minimums, in priority order.
    for candidate in &candidates {
        let mut min = candidate.preferences.min_replicas.min(remaining);
        if let Some(capacity) = capacity_of(candidate.cluster) {
            min = min.min(capacity);
        }
        remaining = remaining.saturating_sub(min);
        planned.insert(candidate.cluster.to_owned(), min);
    }

    // Without rebalancing, keep what is already running (within max and capacity).
    let mut preallocated: BTreeMap<&str, i64> = BTreeMap::new();
    if !preferences.rebalance {
        for candidate in &candidates {
            let already = planned.get(candidate.cluster).copied().unwrap_or(0);
            let Some(&count) = current_replicas.get(candidate.cluster) else {
                continue;
            };
            if count <= already {
                continue;
            }
            let mut target = count;
            if let Some(max) = candidate.preferences.max_replicas {
                target = target.min(max);
            }
            if let Some(capacity) = capacity_of(candidate.cluster) {
                target = target.min(capacity);
            }
            let extra = target.saturating_sub(already).min(remaining).max(0);
            remaining = remaining.saturating_sub(extra);
            preallocated.insert(candidate.cluster, extra);
            planned.insert(candidate.cluster.to_owned(), already.saturating_add(extra));
        }
    }

    // Weighted rounds over the clusters still open.
    let mut open: Vec<&Candidate<'_>> = candidates.iter().collect();
    let mut modified = true;
    while modified && remaining > 0 {
        modified = false;
        let weight_sum: i128 = open.iter().map(|c| i128::from(c.weight())).sum();
        if weight_sum <= 0 {
            break;
        }
        let to_distribute = i128::from(remaining);
        let mut still_open = Vec::with_capacity(open.len());
        for candidate in open {
            let start = planned.get(candidate.cluster).copied().unwrap_or(0);
            // ceil(to_distribute * weight / weight_sum); 0 <= share <= to_distribute, so it fits i64.
            let share = (to_distribute * i128::from(candidate.weight()) + weight_sum - 1) / weight_sum;
            let mut extra = i64::try_from(share).unwrap_or(i64::MAX).min(remaining);

            let prealloc = preallocated.get(candidate.cluster).copied().unwrap_or(0);
            let used_prealloc = extra.min(prealloc);
            if prealloc != 0 {
                preallocated.insert(candidate.cluster, prealloc - used_prealloc);
            }
            extra -= used_prealloc;
            if used_prealloc > 0 {
                modified = true;
            }

            let mut total = start.saturating_add(extra);
            let mut full = false;
            if let Some(max) = candidate.preferences.max_replicas
                && total > max
            {
                total = max;
                full = true;
            }
            if let Some(capacity) = capacity_of(candidate.cluster)
                && total > capacity
            {
                overflow.insert(candidate.cluster.to_owned(), total - capacity);
                total = capacity;
                full = true;
            }
            if !full {
                still_open.push(candidate);
            }
            remaining = remaining.saturating_sub(total.saturating_sub(start));
            planned.insert(candidate.cluster.to_owned(), total);
            if total > start {
                modified = true;
            }
        }
        open = still_open;
    }

    if !preferences.rebalance {
        // Only what could not be placed anywhere is worth overflowing.
        overflow = overflow
            .into_iter()
            .filter_map(|(cluster, value)| {
                let value = value.min(remaining);
                (value > 0).then_some((cluster, value))
            })
            .collect();
    }
    Plan {
        replicas: planned,
        overflow,
    }
}

/// What one cluster is told to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterSchedule {
    /// Whether the cluster gets a copy of the workload (possibly with 0 replicas).
    pub selected: bool,
    /// The copy's `spec.replicas`: planned replicas plus overflow; 0 when not selected.
    pub replicas: i64,
}

/// Turns a plan into per-cluster schedules for `clusters` (v1's `schedule` after `Plan`): every cluster in
/// the plan is selected with `replicas + overflow`, every other listed cluster is unselected with 0.
///
/// Because v1's plan has a 0 entry for each available cluster without an applicable preference, such a
/// cluster is **selected with 0 replicas** (v1 creates a 0-replica copy there). A caller wanting to skip
/// those can test [`ReplicaAllocationPreferences::preference_for`].
#[must_use]
pub fn schedule_for_clusters(plan: &Plan, clusters: &[String]) -> BTreeMap<String, ClusterSchedule> {
    let mut schedule: BTreeMap<String, ClusterSchedule> = clusters
        .iter()
        .map(|cluster| (cluster.clone(), ClusterSchedule::default()))
        .collect();
    for (cluster, replicas) in &plan.replicas {
        let entry = schedule.entry(cluster.clone()).or_default();
        entry.selected = true;
        entry.replicas = *replicas;
    }
    for (cluster, extra) in &plan.overflow {
        let entry = schedule.entry(cluster.clone()).or_default();
        entry.selected = true;
        entry.replicas = entry.replicas.saturating_add(*extra);
    }
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(clusters: &[&str]) -> Vec<String> {
        clusters.iter().map(|c| (*c).to_owned()).collect()
    }

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    fn pref(min: i64, max: Option<i64>, weight: i64) -> ClusterPreferences {
        ClusterPreferences {
            min_replicas: min,
            max_replicas: max,
            weight,
        }
    }

    fn w(weight: i64) -> ClusterPreferences {
        pref(0, None, weight)
    }

    fn prefs(rebalance: bool, clusters: &[(&str, ClusterPreferences)]) -> ReplicaAllocationPreferences {
        ReplicaAllocationPreferences {
            rebalance,
            clusters: clusters.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    /// planner_test.go's `doCheck`: no current replicas, no capacity, key "", no overflow.
    fn check(
        clusters: &[(&str, ClusterPreferences)],
        total: i64,
        available: &[&str],
        expected: &[(&str, i64)],
    ) {
        let result = plan(
            &prefs(false, clusters),
            total,
            &names(available),
            &BTreeMap::new(),
            &BTreeMap::new(),
            "",
        );
        assert_eq!(result.replicas, counts(expected), "{total} over {available:?}");
        assert!(result.overflow.is_empty(), "{:?}", result.overflow);
    }

    /// `doCheckWithExisting`: current replicas, rebalance = false, no capacity.
    fn check_with_existing(
        clusters: &[(&str, ClusterPreferences)],
        total: i64,
        available: &[&str],
        existing: &[(&str, i64)],
        expected: &[(&str, i64)],
    ) {
        let result = plan(
            &prefs(false, clusters),
            total,
            &names(available),
            &counts(existing),
            &BTreeMap::new(),
            "",
        );
        assert_eq!(
            result.replicas,
            counts(expected),
            "{total} over {available:?} with {existing:?}"
        );
        assert!(result.overflow.is_empty());
    }

    /// `doCheckWithExistingAndCapacity`.
    #[allow(clippy::too_many_arguments)]
    fn check_with_capacity(
        rebalance: bool,
        clusters: &[(&str, ClusterPreferences)],
        total: i64,
        available: &[&str],
        existing: &[(&str, i64)],
        capacity: &[(&str, i64)],
        expected: &[(&str, i64)],
        expected_overflow: &[(&str, i64)],
    ) {
        let result = plan(
            &prefs(rebalance, clusters),
            total,
            &names(available),
            &counts(existing),
            &counts(capacity),
            "",
        );
        assert_eq!(
            result.replicas,
            counts(expected),
            "plan for {total} over {available:?}"
        );
        assert_eq!(
            result.overflow,
            counts(expected_overflow),
            "overflow for {total} over {available:?}"
        );
    }

    // --- fnv1_32 -----------------------------------------------------------------------------------------

    #[test]
    fn fnv1_32_matches_the_published_fnv1_vectors() {
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1_32(b"b"), 0x050c_5d7d);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
    }

    #[test]
    fn fnv1_32_is_not_fnv1a() {
        // FNV-1a("a") is 0xe40c292c.
        assert_ne!(fnv1_32(b"a"), 0xe40c_292c);
    }

    #[test]
    fn fnv1_32_extend_equals_hashing_the_concatenation() {
        assert_eq!(fnv1_32_extend(fnv1_32(b"foo"), b"bar"), fnv1_32(b"foobar"));
        assert_eq!(fnv1_32_extend(fnv1_32(b"A"), b""), fnv1_32(b"A"));
    }

    // --- TestEqual ---------------------------------------------------------------------------------------

    #[test]
    fn equal_weights_split_evenly_with_hash_dependent_remainders() {
        let star = [("*", w(1))];
        check(&star, 50, &["A", "B", "C"], &[("A", 16), ("B", 17), ("C", 17)]);
        check(&star, 50, &["A", "B"], &[("A", 25), ("B", 25)]);
        check(&star, 1, &["A", "B"], &[("A", 0), ("B", 1)]);
        check(
            &star,
            1,
            &["A", "B", "C", "D"],
            &[("A", 0), ("B", 0), ("C", 0), ("D", 1)],
        );
        check(&star, 1, &["A"], &[("A", 1)]);
        check(&star, 1, &[], &[]);
    }

    // --- TestEqualWithExisting ---------------------------------------------------------------------------

    #[test]
    fn without_rebalance_existing_replicas_stay_where_they_are() {
        let star = [("*", w(1))];
        check_with_existing(
            &star,
            50,
            &["A", "B", "C"],
            &[("C", 30)],
            &[("A", 10), ("B", 10), ("C", 30)],
        );
        check_with_existing(&star, 50, &["A", "B"], &[("A", 30)], &[("A", 30), ("B", 20)]);
        check_with_existing(
            &star,
            15,
            &["A", "B"],
            &[("A", 0), ("B", 8)],
            &[("A", 7), ("B", 8)],
        );
        check_with_existing(
            &star,
            15,
            &["A", "B"],
            &[("A", 1), ("B", 8)],
            &[("A", 7), ("B", 8)],
        );
        check_with_existing(
            &star,
            15,
            &["A", "B"],
            &[("A", 4), ("B", 8)],
            &[("A", 7), ("B", 8)],
        );
        check_with_existing(
            &star,
            15,
            &["A", "B"],
            &[("A", 5), ("B", 8)],
            &[("A", 7), ("B", 8)],
        );
        check_with_existing(
            &star,
            15,
            &["A", "B"],
            &[("A", 6), ("B", 8)],
            &[("A", 7), ("B", 8)],
        );
        check_with_existing(
            &star,
            15,
            &["A", "B"],
            &[("A", 7), ("B", 8)],
            &[("A", 7), ("B", 8)],
        );
        check_with_existing(
            &star,
            500_000,
            &["A", "B"],
            &[("A", 300_000)],
            &[("A", 300_000), ("B", 200_000)],
        );
        check_with_existing(&star, 50, &["A", "B"], &[("A", 10)], &[("A", 25), ("B", 25)]);
        check_with_existing(
            &star,
            50,
            &["A", "B"],
            &[("A", 10), ("B", 20)],
            &[("A", 25), ("B", 25)],
        );
        check_with_existing(&star, 1, &["A", "B"], &[("A", 30)], &[("A", 1), ("B", 0)]);
    }

    #[test]
    fn existing_replicas_over_the_total_go_to_the_first_cluster_in_hash_order() {
        // v1 comments "should be 10:40" (kubernetes#31816) but this is what it does.
        check_with_existing(
            &[("*", w(1))],
            50,
            &["A", "B"],
            &[("A", 10), ("B", 70)],
            &[("A", 0), ("B", 50)],
        );
    }

    // --- TestWithExistingAndCapacity ---------------------------------------------------------------------

    #[test]
    fn capacity_caps_clusters_and_records_overflow_when_rebalancing() {
        check_with_capacity(
            true,
            &[("*", w(1))],
            50,
            &["A", "B", "C"],
            &[],
            &[("C", 10)],
            &[("A", 20), ("B", 20), ("C", 10)],
            &[("C", 7)],
        );
        check_with_capacity(
            true,
            &[("A", w(10_000)), ("B", w(1))],
            50,
            &["B", "C"],
            &[],
            &[("B", 10)],
            &[("B", 10), ("C", 0)],
            &[("B", 40)],
        );
        check_with_capacity(
            true,
            &[("A", w(1)), ("B", w(2))],
            60,
            &["A", "B", "C"],
            &[],
            &[("B", 10)],
            &[("A", 50), ("B", 10), ("C", 0)],
            &[("B", 30)],
        );
        check_with_capacity(
            true,
            &[
                ("A", pref(0, Some(10), 10_000)),
                ("B", w(1)),
                ("C", pref(0, Some(21), 1)),
                ("D", pref(0, Some(10), 1)),
            ],
            71,
            &["A", "B", "C", "D"],
            &[],
            &[("C", 10)],
            &[("A", 10), ("B", 41), ("C", 10), ("D", 10)],
            &[("C", 11)],
        );
        check_with_capacity(
            true,
            &[("*", pref(20, None, 1))],
            60,
            &["A", "B"],
            &[],
            &[("B", 10)],
            &[("A", 50), ("B", 10)],
            &[("B", 15)],
        );
    }

    #[test]
    fn without_rebalance_overflow_is_trimmed_to_what_could_not_be_placed() {
        check_with_capacity(
            false,
            &[("A", w(1)), ("B", w(1))],
            60,
            &["A", "B", "C"],
            &[],
            &[("A", 10), ("B", 10)],
            &[("A", 10), ("B", 10), ("C", 0)],
            &[("A", 20), ("B", 20)],
        );
        check_with_capacity(
            false,
            &[("A", w(1)), ("B", w(5))],
            60,
            &["A", "B", "C"],
            &[],
            &[("B", 10)],
            &[("A", 50), ("B", 10), ("C", 0)],
            &[],
        );
        check_with_capacity(
            false,
            &[("*", pref(20, None, 0))],
            50,
            &["A", "B", "C"],
            &[],
            &[("B", 10)],
            &[("A", 20), ("B", 10), ("C", 20)],
            &[],
        );
    }

    // --- TestMin -----------------------------------------------------------------------------------------

    #[test]
    fn minimums_are_given_first_in_priority_order() {
        check(
            &[("*", pref(2, None, 0))],
            50,
            &["A", "B", "C"],
            &[("A", 2), ("B", 2), ("C", 2)],
        );
        check(
            &[("*", pref(20, None, 0))],
            50,
            &["A", "B", "C"],
            &[("A", 10), ("B", 20), ("C", 20)],
        );
        check(
            &[("*", pref(20, None, 0)), ("A", pref(100, None, 1))],
            50,
            &["A", "B", "C"],
            &[("A", 50), ("B", 0), ("C", 0)],
        );
        check(
            &[("*", pref(10, Some(12), 1))],
            50,
            &["A", "B", "C"],
            &[("A", 12), ("B", 12), ("C", 12)],
        );
    }

    // --- TestMax -----------------------------------------------------------------------------------------

    #[test]
    fn maximums_cap_clusters_and_zero_weight_gets_nothing() {
        check(
            &[("*", pref(0, Some(2), 1))],
            50,
            &["A", "B", "C"],
            &[("A", 2), ("B", 2), ("C", 2)],
        );
        check(
            &[("*", pref(0, Some(2), 0))],
            50,
            &["A", "B", "C"],
            &[("A", 0), ("B", 0), ("C", 0)],
        );
    }

    // --- TestWeight --------------------------------------------------------------------------------------

    #[test]
    fn weights_split_proportionally_and_clusters_without_preference_get_zero() {
        check(
            &[("A", w(1)), ("B", w(2))],
            60,
            &["A", "B", "C"],
            &[("A", 20), ("B", 40), ("C", 0)],
        );
        check(
            &[("A", w(10_000)), ("B", w(1))],
            50,
            &["A", "B", "C"],
            &[("A", 50), ("B", 0), ("C", 0)],
        );
        check(
            &[("A", w(10_000)), ("B", w(1))],
            50,
            &["B", "C"],
            &[("B", 50), ("C", 0)],
        );
    }

    #[test]
    fn replicas_a_maxed_cluster_cannot_take_flow_to_the_others() {
        check(
            &[("A", pref(0, Some(10), 10_000)), ("B", w(1)), ("C", w(1))],
            50,
            &["A", "B", "C"],
            &[("A", 10), ("B", 20), ("C", 20)],
        );
        check(
            &[
                ("A", pref(0, Some(10), 10_000)),
                ("B", w(1)),
                ("C", pref(0, Some(10), 1)),
            ],
            50,
            &["A", "B", "C"],
            &[("A", 10), ("B", 30), ("C", 10)],
        );
        check(
            &[
                ("A", pref(0, Some(10), 10_000)),
                ("B", w(1)),
                ("C", pref(0, Some(21), 1)),
                ("D", pref(0, Some(10), 1)),
            ],
            71,
            &["A", "B", "C", "D"],
            &[("A", 10), ("B", 30), ("C", 21), ("D", 10)],
        );
        check(
            &[
                ("A", pref(0, Some(10), 10_000)),
                ("B", w(1)),
                ("C", pref(0, Some(21), 1)),
                ("D", pref(0, Some(10), 1)),
                ("E", w(1)),
            ],
            91,
            &["A", "B", "C", "D", "E"],
            &[("A", 10), ("B", 25), ("C", 21), ("D", 10), ("E", 25)],
        );
    }

    // --- e2e expectations (test/e2e/replicaset.go) ---------------------------------------------------------

    fn e2e_clusters(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cluster{i}")).collect()
    }

    fn i64_of(i: usize) -> i64 {
        i64::try_from(i).expect("small index")
    }

    #[test]
    fn e2e_weight_i_for_cluster_i_gives_exactly_weight_replicas() {
        for n in 2..=6 {
            let clusters = e2e_clusters(n);
            let mut preferences = prefs(false, &[]);
            let mut total = 0;
            for (i, name) in clusters.iter().enumerate().skip(1) {
                preferences.clusters.insert(name.clone(), w(i64_of(i)));
                total += i64_of(i);
            }
            let key = "e2e-tests-federation-replicaset/federation-replicaset-x";
            let result = plan(
                &preferences,
                total,
                &clusters,
                &BTreeMap::new(),
                &BTreeMap::new(),
                key,
            );
            for (i, name) in clusters.iter().enumerate() {
                assert_eq!(result.replicas[name], i64_of(i), "{n} clusters, {name}");
            }
        }
    }

    #[test]
    fn e2e_minimums_plus_one_extra_go_to_the_heaviest_cluster() {
        for n in 2..=6 {
            let clusters = e2e_clusters(n);
            let mut preferences = prefs(false, &[("cluster0", w(100))]);
            let mut total = 1;
            for (i, name) in clusters.iter().enumerate().skip(1) {
                preferences
                    .clusters
                    .insert(name.clone(), pref(i64_of(i) + 2, None, 1));
                total += i64_of(i) + 2;
            }
            let result = plan(
                &preferences,
                total,
                &clusters,
                &BTreeMap::new(),
                &BTreeMap::new(),
                "ns/rs",
            );
            assert_eq!(result.replicas["cluster0"], 1);
            for (i, name) in clusters.iter().enumerate().skip(1) {
                assert_eq!(result.replicas[name], i64_of(i) + 2, "{n} clusters, {name}");
            }
        }
    }

    #[test]
    fn e2e_replicas_beyond_the_maximums_go_to_the_lightest_cluster() {
        for n in 2..=6 {
            let clusters = e2e_clusters(n);
            let mut preferences = prefs(false, &[("cluster0", w(1))]);
            let mut total = 5;
            for (i, name) in clusters.iter().enumerate().skip(1) {
                preferences
                    .clusters
                    .insert(name.clone(), pref(0, Some(i64_of(i)), 100));
                total += i64_of(i);
            }
            let result = plan(
                &preferences,
                total,
                &clusters,
                &BTreeMap::new(),
                &BTreeMap::new(),
                "ns/rs",
            );
            assert_eq!(result.replicas["cluster0"], 5);
            for (i, name) in clusters.iter().enumerate().skip(1) {
                assert_eq!(result.replicas[name], i64_of(i), "{n} clusters, {name}");
            }
        }
    }

    #[test]
    fn e2e_rebalancing_moves_replicas_only_when_allowed() {
        let clusters = e2e_clusters(2);
        let first = prefs(false, &[("cluster0", w(1)), ("cluster1", w(2))]);
        let none = BTreeMap::new();
        let created = plan(&first, 3, &clusters, &none, &none, "ns/rs");
        assert_eq!(created.replicas, counts(&[("cluster0", 1), ("cluster1", 2)]));

        let current = created.replicas;
        let mut second = prefs(false, &[("cluster0", w(2)), ("cluster1", w(1))]);
        let kept = plan(&second, 3, &clusters, &current, &none, "ns/rs");
        assert_eq!(kept.replicas, counts(&[("cluster0", 1), ("cluster1", 2)]));

        second.rebalance = true;
        let moved = plan(&second, 3, &clusters, &current, &none, "ns/rs");
        assert_eq!(moved.replicas, counts(&[("cluster0", 2), ("cluster1", 1)]));
    }

    // --- edge cases --------------------------------------------------------------------------------------

    #[test]
    fn the_workload_key_changes_hash_tie_breaks() {
        let star = prefs(false, &[("*", w(1))]);
        let clusters = names(&["A", "B", "C", "D"]);
        let none = BTreeMap::new();
        // FNV-1 mixes poorly ("" and most "ns/x" keys pick the same cluster), but the key does matter.
        let keys: Vec<String> = std::iter::once(String::new())
            .chain((0..10).map(|i| format!("ns/rs-{i}")))
            .collect();
        let winners: std::collections::BTreeSet<String> = keys
            .iter()
            .flat_map(|key| {
                plan(&star, 1, &clusters, &none, &none, key)
                    .replicas
                    .into_iter()
                    .filter(|(_, n)| *n == 1)
                    .map(|(c, _)| c)
            })
            .collect();
        assert!(winners.len() > 1, "the single replica always went to {winners:?}");
    }

    #[test]
    fn zero_or_negative_totals_plan_nothing_positive() {
        let star = prefs(false, &[("*", w(1))]);
        let none = BTreeMap::new();
        let zero = plan(&star, 0, &names(&["A", "B"]), &none, &none, "");
        assert_eq!(zero.replicas, counts(&[("A", 0), ("B", 0)]));
        let negative = plan(&star, -3, &names(&["A"]), &none, &none, "");
        assert_eq!(negative.replicas, counts(&[("A", -3)]));
    }

    #[test]
    fn negative_weights_and_huge_values_terminate_without_panicking() {
        let none = BTreeMap::new();
        let odd = prefs(false, &[("A", w(-5)), ("B", w(2)), ("C", w(i64::MAX))]);
        let result = plan(&odd, i64::MAX, &names(&["A", "B", "C"]), &none, &none, "");
        assert_eq!(
            result.replicas.values().copied().map(i128::from).sum::<i128>(),
            i128::from(i64::MAX)
        );
        assert_eq!(result.replicas["A"], 0);
    }

    #[test]
    fn no_preferences_at_all_plan_zero_everywhere() {
        let none = BTreeMap::new();
        let result = plan(&prefs(false, &[]), 10, &names(&["A", "B"]), &none, &none, "");
        assert_eq!(result.replicas, counts(&[("A", 0), ("B", 0)]));
    }

    // --- schedule_for_clusters ---------------------------------------------------------------------------

    #[test]
    fn schedules_add_overflow_to_planned_replicas() {
        let result = Plan {
            replicas: counts(&[("A", 20), ("B", 20), ("C", 10)]),
            overflow: counts(&[("C", 7)]),
        };
        let schedule = schedule_for_clusters(&result, &names(&["A", "B", "C"]));
        assert_eq!(
            schedule["A"],
            ClusterSchedule {
                selected: true,
                replicas: 20
            }
        );
        assert_eq!(
            schedule["C"],
            ClusterSchedule {
                selected: true,
                replicas: 17
            }
        );
    }

    #[test]
    fn clusters_planned_zero_are_selected_and_unplanned_ones_are_not() {
        let preferences = prefs(false, &[("A", w(1))]);
        let none = BTreeMap::new();
        let result = plan(&preferences, 4, &names(&["A", "B"]), &none, &none, "");
        let schedule = schedule_for_clusters(&result, &names(&["A", "B", "Z"]));
        assert_eq!(
            schedule["A"],
            ClusterSchedule {
                selected: true,
                replicas: 4
            }
        );
        assert_eq!(
            schedule["B"],
            ClusterSchedule {
                selected: true,
                replicas: 0
            }
        );
        assert_eq!(
            schedule["Z"],
            ClusterSchedule {
                selected: false,
                replicas: 0
            }
        );
        assert!(preferences.preference_for("B").is_none());
    }
}
