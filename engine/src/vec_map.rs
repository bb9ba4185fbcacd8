//! A small map kept as one sorted vector, for what a worker's state holds by id: a month's
//! fifty punches, a leave or two, an adjustment. A million workers' month must fit in 4 GB, and
//! the standard maps cost several times their entries there: a hash table keeps twice its
//! entries' room, a B-tree allocates room for eleven at its first. A binary search over fifty
//! ids is as quick as a hash, and ids from one device mostly arrive in order, so an insert is
//! mostly an append.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// Puts `value` under `key`, or over the value there if `replaces(&value, &there)`;
    /// returns whether the map changed.
    pub fn keep(&mut self, key: K, value: V, replaces: impl FnOnce(&V, &V) -> bool) -> bool {
        match self.0.binary_search_by(|(kept, _)| kept.cmp(&key)) {
            Ok(i) if replaces(&value, &self.0[i].1) => {
                self.0[i].1 = value;
                true
            }
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, (key, value));
                true
            }
        }
    }

    /// [`VecMap::keep`] of each of `entries`, with one sort in place of an insert each: what
    /// many entries in no order of key cost (each insert shifted every entry after it).
    pub fn keep_all(&mut self, mut entries: Vec<(K, V)>, replaces: impl Fn(&V, &V) -> bool) {
        if self.0.is_empty() {
            self.0 = entries;
        } else {
            self.0.append(&mut entries);
        }
        self.0.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        // Of a key's entries, the one that replaces the others stays, wherever the sort put it.
        self.0.dedup_by(|(key, value), (kept_key, kept)| {
            if key != kept_key {
                return false;
            }
            if replaces(value, kept) {
                std::mem::swap(value, kept);
            }
            true
        });
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, value)| value)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(key, value)| (key, value))
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.0.retain(|(key, value)| keep(key, value));
    }

    /// Gives back the room kept for more entries.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Encoded as the map it stands for, as checkpoints had it when it was one.
impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V>(PhantomData<(K, V)>);

        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
            type Value = VecMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // The length is the encoder's word: a hint, capped, never trusted.
                let mut entries: Vec<(K, V)> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                entries.sort_by(|(a, _), (b, _)| a.cmp(b));
                if entries.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(A::Error::custom("a key appears twice"));
                }
                Ok(VecMap(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_value_a_key_by_the_rule_given_in_any_order() {
        let smaller = |new: &u32, old: &u32| new < old;
        let events = [(3, 30), (1, 10), (3, 5), (2, 20), (1, 40)];
        let mut orders = vec![events.to_vec()];
        orders.push(events.iter().rev().copied().collect());
        for order in orders {
            let mut map = VecMap::default();
            for (key, value) in order {
                map.keep(key, value, smaller);
            }
            assert_eq!(map.0, [(1, 10), (2, 20), (3, 5)]);
        }
    }

    #[test]
    fn keeping_all_at_once_keeps_what_keeping_each_keeps() {
        let smaller = |new: &u32, old: &u32| new < old;
        // Keys and values from a small generator, with many repeats of a key.
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            seed >> 16
        };
        for _ in 0..50 {
            let before: Vec<(u32, u32)> = (0..next() % 20).map(|_| (next() % 30, next() % 100)).collect();
            let entries: Vec<(u32, u32)> = (0..next() % 80).map(|_| (next() % 30, next() % 100)).collect();
            let (mut one_by_one, mut all) = (VecMap::default(), VecMap::default());
            for &(key, value) in &before {
                one_by_one.keep(key, value, smaller);
                all.keep(key, value, smaller);
            }
            for &(key, value) in &entries {
                one_by_one.keep(key, value, smaller);
            }
            all.keep_all(entries, smaller);
            assert_eq!(all, one_by_one);
        }
    }

    #[test]
    fn encodes_as_a_map() {
        let mut map = VecMap::default();
        for (k, v) in [("b", 2), ("a", 1)] {
            map.keep(k.to_string(), v, |_, _| false);
        }
        let std: std::collections::BTreeMap<String, i32> = [("a".into(), 1), ("b".into(), 2)].into();
        assert_eq!(
            postcard::to_allocvec(&map).unwrap(),
            postcard::to_allocvec(&std).unwrap()
        );
        let back: VecMap<String, i32> = postcard::from_bytes(&postcard::to_allocvec(&std).unwrap()).unwrap();
        assert_eq!(back, map);
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"a":1,"b":2}"#);
        let twice: Result<VecMap<String, i32>, _> = serde_json::from_str(r#"{"a":1,"a":2}"#);
        assert!(twice.is_err());
    }
}
