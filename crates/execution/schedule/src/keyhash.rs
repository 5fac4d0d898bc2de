//! Hashing of the conflict models' keys as whole machine words.
//!
//! A derived `Hash` feeds an [`Address`] to the hasher as a byte slice, which
//! the hasher reads in overlapping 8-byte pieces. The keys hashed here are
//! freshly copied onto the stack, and such reads across the copy's stores
//! stall on store forwarding: perf put over half of [`crate::predict`]'s time
//! on them. Feeding fixed words hashes the same information without the
//! stalls. Equal keys still hash equally, which is all a map needs.

use alloy_primitives::Address;
use std::hash::Hasher;

/// Feeds `address` to `state` as three words (8, 8 and 4 bytes).
pub(crate) fn hash_address<H: Hasher>(address: &Address, state: &mut H) {
    let bytes = &address.0 .0;
    state.write_u64(u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")));
    state.write_u64(u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")));
    state.write_u32(u32::from_le_bytes(bytes[16..].try_into().expect("4 bytes")));
}

/// Feeds a 32-byte word to `state` as four 64-bit words.
pub(crate) fn hash_bytes32<H: Hasher>(bytes: &[u8; 32], state: &mut H) {
    for word in bytes.chunks_exact(8) {
        state.write_u64(u64::from_le_bytes(word.try_into().expect("8 bytes")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn of(f: impl Fn(&mut DefaultHasher)) -> u64 {
        let mut h = DefaultHasher::new();
        f(&mut h);
        h.finish()
    }

    #[test]
    fn every_byte_of_a_key_counts() {
        let base = of(|h| hash_address(&Address::ZERO, h));
        for i in 0..20 {
            let mut a = Address::ZERO;
            a.0[i] = 1;
            assert_ne!(of(|h| hash_address(&a, h)), base, "address byte {i}");
        }
        let base = of(|h| hash_bytes32(&[0; 32], h));
        for i in 0..32 {
            let mut w = [0u8; 32];
            w[i] = 1;
            assert_ne!(of(|h| hash_bytes32(&w, h)), base, "word byte {i}");
        }
    }
}
