//! The engine's caches, in memory only, bounded, oldest entry out first:
//! - STUN: the application a call's endpoint (address and port) was last
//!   seen with, so that the other flows of the same call (to relays, peers,
//!   later allocations) get its name, as nDPI's STUN cache does;
//! - TINC: the endpoints of tinc meta connections (client, server, the
//!   server's port), so that the one UDP flow between them that follows is
//!   named TINC, as nDPI's tinc cache does.
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use exitflow_decode::Addr;

use crate::ProtoId;

/// Endpoints the STUN cache remembers at most.
pub const DEFAULT_STUN_CACHE_CAP: usize = 4096;
/// Meta connections the TINC cache remembers at most (nDPI's size).
pub const DEFAULT_TINC_CACHE_CAP: usize = 10;

/// An endpoint: address and port.
pub type Endpoint = (Addr, u16);
/// A tinc meta connection: client, server, the server's port.
pub type TincKey = (Addr, Addr, u16);

/// A bounded map, oldest entry out first, with a count of what it dropped.
/// The standard hasher is randomly keyed: keys come from the network.
pub struct Bounded<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    cap: usize,
    evicted: u64,
}

impl<K, V> std::fmt::Debug for Bounded<K, V> {
    /// How full it is, never its keys: they are addresses, which reach no log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounded")
            .field("len", &self.map.len())
            .field("cap", &self.cap)
            .field("evicted", &self.evicted)
            .finish()
    }
}

/// The call application last seen with each endpoint.
pub type StunCache = Bounded<Endpoint, ProtoId>;
/// The tinc meta connections whose UDP flow is awaited.
pub type TincCache = Bounded<TincKey, ()>;

impl<K: Hash + Eq + Copy, V: Copy> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: 0,
            evicted: 0,
        }
    }
}

impl<K: Hash + Eq + Copy, V: Copy> Bounded<K, V> {
    /// An empty cache holding at most `cap` entries.
    pub fn new(cap: usize) -> Self {
        Bounded {
            cap,
            ..Default::default()
        }
    }

    /// Remembers a key's value.
    pub fn put(&mut self, e: K, app: V) {
        if self.cap == 0 {
            return;
        }
        if self.map.insert(e, app).is_none() {
            self.order.push_back(e);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                    self.evicted += 1;
                }
            }
        }
    }

    /// The value last put for a key.
    pub fn get(&self, e: &K) -> Option<V> {
        self.map.get(e).copied()
    }

    /// The value of a key, removed.
    pub fn take(&mut self, e: &K) -> Option<V> {
        let v = self.map.remove(e)?;
        self.order.retain(|k| k != e);
        Some(v)
    }

    /// Entries dropped to stay within the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_at_most_its_cap_and_counts_what_it_drops() {
        let mut c = StunCache::new(2);
        let e = |n: u8| ([n; 16], u16::from(n));
        c.put(e(1), ProtoId(5));
        c.put(e(2), ProtoId(6));
        c.put(e(1), ProtoId(7));
        assert_eq!(c.get(&e(1)), Some(ProtoId(7)));
        c.put(e(3), ProtoId(8));
        assert_eq!((c.len(), c.evicted()), (2, 1));
        assert_eq!(c.get(&e(1)), None);
        assert_eq!(c.get(&e(3)), Some(ProtoId(8)));
        let mut off = StunCache::new(0);
        off.put(e(1), ProtoId(5));
        assert!(off.is_empty());
    }

    /// A key taken is gone, and its place in the order too: a key put
    /// again after it is not evicted for the old entry's age.
    #[test]
    fn a_taken_entry_leaves_no_stale_place_in_the_order() {
        let mut c = TincCache::new(2);
        let k = |n: u8| ([n; 16], [n; 16], u16::from(n));
        c.put(k(1), ());
        assert_eq!(c.take(&k(1)), Some(()));
        assert_eq!(c.take(&k(1)), None);
        c.put(k(2), ());
        c.put(k(1), ());
        c.put(k(3), ());
        assert_eq!(
            (c.get(&k(2)), c.get(&k(1)), c.get(&k(3))),
            (None, Some(()), Some(()))
        );
        assert_eq!(c.evicted(), 1);
    }
}
