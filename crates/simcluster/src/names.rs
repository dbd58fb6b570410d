//! Deterministic names and addresses: the same cluster name, workload and replica always give the same
//! pod name, so that a restart (or a reconcile working from a cache that lags its own writes) never
//! creates duplicates.

use std::net::Ipv4Addr;

/// The characters kube uses in generated name suffixes (no vowels, no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 64 bits.
#[must_use]
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// FNV-1a, 32 bits, of `bytes`.
#[must_use]
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A `pod-template-hash` in kube's style: the decimal digits of a 32-bit hash of the template, each mapped
/// to a name-safe character.
#[must_use]
pub fn template_hash(template_json: &[u8]) -> String {
    fnv1a32(template_json)
        .to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// A 5-character suffix determined by `seed` and `ordinal`.
#[must_use]
pub fn suffix(seed: &str, ordinal: u64) -> String {
    let mut hash = fnv1a64(&[seed.as_bytes(), &ordinal.to_le_bytes()]);
    let base = ALPHANUMS.len() as u64;
    let mut out = String::with_capacity(5);
    for _ in 0..5 {
        let index = usize::try_from(hash % base).unwrap_or_default();
        out.push(char::from(ALPHANUMS[index]));
        hash /= base;
    }
    out
}

/// `prefix` cut so that `<prefix>-<5 chars>` stays a valid object name.
#[must_use]
pub fn name_prefix(prefix: &str) -> &str {
    const MAX: usize = 240;
    if prefix.len() <= MAX {
        return prefix;
    }
    let mut end = MAX;
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    prefix[..end].trim_end_matches(['-', '.'])
}

/// The cluster's address plan: node IPs `10.<c>.0.<i+1>`, pod IPs from `10.<c>.1.1` on, and
/// load-balancer IPs in `172.16.0.0/12` hashed from cluster, namespace and service name. `c` is derived
/// from the cluster name (1..=250), so clusters with different names usually get different ranges.
#[derive(Debug, Clone, Copy)]
pub struct AddressPlan {
    octet: u8,
}

impl AddressPlan {
    /// The plan of the cluster called `name`.
    #[must_use]
    pub fn new(name: &str) -> Self {
        let octet = 1 + fnv1a64(&[name.as_bytes()]) % 250;
        Self {
            octet: u8::try_from(octet).unwrap_or(1),
        }
    }

    /// The InternalIP of node `index` (0-based, below [`crate::options::MAX_NODES`]).
    #[must_use]
    pub fn node_ip(&self, index: usize) -> Ipv4Addr {
        let last = u8::try_from(index % 254 + 1).unwrap_or(1);
        Ipv4Addr::new(10, self.octet, 0, last)
    }

    /// Pod IP number `n` (0-based) of the cluster's pod range, skipping `.0` and `.255`; `None` past the
    /// end of the range.
    #[must_use]
    pub fn pod_ip(&self, n: u32) -> Option<Ipv4Addr> {
        let per_block = 254u32;
        let third = 1 + n / per_block;
        let last = 1 + n % per_block;
        let third = u8::try_from(third).ok()?;
        let last = u8::try_from(last).ok()?;
        Some(Ipv4Addr::new(10, self.octet, third, last))
    }

    /// How many pod IPs the range holds.
    #[must_use]
    pub fn pod_ips(&self) -> u32 {
        255 * 254
    }

    /// The load-balancer IP of service `namespace/name` in cluster `cluster`.
    #[must_use]
    pub fn load_balancer_ip(cluster: &str, namespace: &str, name: &str) -> Ipv4Addr {
        let hash = fnv1a64(&[cluster.as_bytes(), namespace.as_bytes(), name.as_bytes()]);
        let second = 16 + u8::try_from((hash >> 16) & 15).unwrap_or(0);
        let third = u8::try_from((hash >> 8) & 255).unwrap_or(0);
        let last = 1 + u8::try_from((hash & 255) % 254).unwrap_or(0);
        Ipv4Addr::new(172, second, third, last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_deterministic_and_safe() {
        assert_eq!(suffix("uid-1", 0), suffix("uid-1", 0));
        assert_ne!(suffix("uid-1", 0), suffix("uid-1", 1));
        assert_ne!(suffix("uid-1", 0), suffix("uid-2", 0));
        assert!(suffix("x", 7).bytes().all(|b| ALPHANUMS.contains(&b)));
        assert_eq!(suffix("x", 7).len(), 5);
    }

    #[test]
    fn template_hashes_look_like_kube() {
        let hash = template_hash(br#"{"spec":{}}"#);
        assert!(hash.len() >= 8 && hash.len() <= 10, "{hash}");
        assert!(hash.bytes().all(|b| ALPHANUMS.contains(&b)));
    }

    #[test]
    fn addresses() {
        let plan = AddressPlan::new("c1");
        assert_eq!(plan.node_ip(0).octets()[3], 1);
        assert_eq!(
            plan.pod_ip(0).map(|ip| ip.octets()[2..].to_vec()),
            Some(vec![1, 1])
        );
        assert_eq!(
            plan.pod_ip(254).map(|ip| ip.octets()[2..].to_vec()),
            Some(vec![2, 1])
        );
        assert!(plan.pod_ip(plan.pod_ips()).is_none());
        assert!(plan.pod_ip(plan.pod_ips() - 1).is_some());
        let a = AddressPlan::load_balancer_ip("c1", "default", "web");
        assert_eq!(a, AddressPlan::load_balancer_ip("c1", "default", "web"));
        assert_ne!(a, AddressPlan::load_balancer_ip("c2", "default", "web"));
        assert_eq!(a.octets()[0], 172);
        assert!((16..32).contains(&a.octets()[1]));
    }

    #[test]
    fn long_prefixes_are_cut() {
        let long = "a".repeat(300);
        assert_eq!(name_prefix(&long).len(), 240);
        assert_eq!(name_prefix("web"), "web");
    }
}
