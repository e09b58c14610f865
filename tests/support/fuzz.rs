//! What both fuzzing tiers share (`tests/fuzz.rs` natively, and
//! `host-harness/tests/fuzz_component.rs` through the component): the seeded
//! generator, and the small helpers for reading settings and printing inputs.
#![allow(dead_code)] // each tier uses a part

/// splitmix64's finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64: tiny, fast, and every case is reproducible from (seed, index).
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// `s` quoted, cut to `n` characters with its full length when longer.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(n).collect();
        format!("{head:?}… ({} bytes)", s.len())
    }
}

/// A number from the environment, decimal or `0x` hex, `_` allowed.
pub fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?.trim().replace('_', "");
    match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => raw.parse().ok(),
    }
}

/// Sets `path` in `root`, creating (or replacing with) objects on the way;
/// does nothing if `root` is not an object.
pub fn set_path(root: &mut serde_json::Value, path: &[&str], value: serde_json::Value) {
    let mut node = root;
    for (i, key) in path.iter().enumerate() {
        let Some(obj) = node.as_object_mut() else { return };
        if i + 1 == path.len() {
            obj.insert(key.to_string(), value);
            return;
        }
        let child = obj.entry(key.to_string()).or_insert_with(|| serde_json::json!({}));
        if !child.is_object() {
            *child = serde_json::json!({});
        }
        node = child;
    }
}
