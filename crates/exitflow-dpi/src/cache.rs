//! The STUN cache: the application a call's endpoint (address and port)
//! was last seen with, so that the other flows of the same call (to relays,
//! peers, later allocations) get its name, as nDPI's STUN cache does. In
//! memory only, bounded, oldest entry out first.
use std::collections::{HashMap, VecDeque};

use exitflow_decode::Addr;

use crate::ProtoId;

/// Endpoints remembered at most.
pub const DEFAULT_STUN_CACHE_CAP: usize = 4096;

/// An endpoint: address and port.
pub type Endpoint = (Addr, u16);

/// A bounded map from endpoints to the call application seen with them.
#[derive(Debug, Default)]
pub struct StunCache {
    map: HashMap<Endpoint, ProtoId>,
    order: VecDeque<Endpoint>,
    cap: usize,
    evicted: u64,
}

impl StunCache {
    /// An empty cache holding at most `cap` endpoints.
    pub fn new(cap: usize) -> StunCache {
        StunCache {
            cap,
            ..Default::default()
        }
    }

    /// Remembers an endpoint's application.
    pub fn put(&mut self, e: Endpoint, app: ProtoId) {
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

    /// The application last seen with an endpoint.
    pub fn get(&self, e: &Endpoint) -> Option<ProtoId> {
        self.map.get(e).copied()
    }

    /// Endpoints dropped to stay within the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Endpoints held.
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
}
