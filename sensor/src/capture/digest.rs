//! A digest of a capture file's bytes: what offline alert ids are made of
//! (see [`crate::detect::AlertIds`]), so that the same file replayed again
//! gives the same ids and the analyzer stores its alerts once.
//!
//! The whole file is hashed when it is opened, before its first frame: an
//! alert id needs the digest from the first alert on, and a digest of only
//! the size and the first and last bytes would take two captures that
//! differ in the middle (one packet rewritten, say) for one, and the
//! analyzer would then drop the second one's alerts as duplicates. The file
//! is memory-mapped, so hashing it also brings it into memory for the walk
//! that follows; the hash runs four independent 64-bit lanes over 32-byte
//! blocks (a multiply and a rotation per word): about 20 GB/s on this
//! project's 2-core build machine (a 512 MiB buffer in memory, optimised
//! build), some 30 ms for the 630 MB capture of `scripts/bench`, which the
//! sensor analyses in about 2.2 s. A file larger than memory is read twice
//! from disk.
//!
//! It is a fingerprint against accidents, not a cryptographic hash: someone
//! who can write capture files for the sensor to replay can do worse than
//! forge a collision.

/// Odd constants with well-spread bits (from the golden ratio and other
/// irrationals' expansions); each lane starts from its own.
const SEEDS: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x85eb_ca77_c2b2_ae63,
];

/// The multiplier of a lane's step.
const MUL: u64 = 0xff51_afd7_ed55_8ccd;

/// One word into a lane. For a fixed lane state each step is a bijection of
/// the word, and for a fixed word a bijection of the state, so one changed
/// word always changes its lane's final state.
#[inline(always)]
fn step(lane: u64, word: u64) -> u64 {
    (lane ^ word).wrapping_mul(MUL).rotate_left(31)
}

/// Spreads every bit of `x` over all 64 (the finaliser of MurmurHash3).
fn avalanche(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(w)
}

/// The 64-bit digest of `bytes`.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut lanes = SEEDS;
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            *lane = step(*lane, word(&block[i * 8..i * 8 + 8]));
        }
    }
    // The last, partial block, padded with zeros; the length (below) tells
    // the padding from bytes that are zero.
    let tail = blocks.remainder();
    for (i, chunk) in tail.chunks(8).enumerate() {
        lanes[i] = step(lanes[i], word(chunk));
    }
    let mut h = avalanche(bytes.len() as u64 ^ SEEDS[0]);
    for lane in lanes {
        h = avalanche(h ^ avalanche(lane)).wrapping_add(SEEDS[1]);
    }
    avalanche(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_give_the_same_digest() {
        let a: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(digest(&a), digest(&a.clone()));
        // A fixed value: a digest must not change between versions, or a
        // file replayed after an upgrade would be stored twice.
        assert_eq!(format!("{:016x}", digest(b"otwatch")), "76dfdc4821d0bfc0");
        let blocks: Vec<u8> = (0..100u8).collect();
        assert_eq!(format!("{:016x}", digest(&blocks)), "7920ace77eb1ac77");
        assert_ne!(digest(b""), 0);
    }

    #[test]
    fn any_changed_byte_changes_the_digest() {
        let base: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
        let d = digest(&base);
        let mut seen = std::collections::HashSet::new();
        seen.insert(d);
        for at in 0..base.len() {
            for flip in [1u8, 0x80] {
                let mut other = base.clone();
                other[at] ^= flip;
                assert!(seen.insert(digest(&other)), "byte {at} ^ {flip:#x}");
            }
        }
    }

    #[test]
    fn trailing_zeros_and_swapped_blocks_change_the_digest() {
        let mut a = vec![0u8; 64];
        a[0] = 1;
        let d = digest(&a);
        for extra in 1..40 {
            let mut longer = a.clone();
            longer.resize(a.len() + extra, 0);
            assert_ne!(digest(&longer), d, "{extra} zeros appended");
        }
        assert_ne!(digest(&a[..63]), d);
        // The same two blocks in the other order.
        let (x, y) = ([1u8; 32], [2u8; 32]);
        let xy: Vec<u8> = x.iter().chain(&y).copied().collect();
        let yx: Vec<u8> = y.iter().chain(&x).copied().collect();
        assert_ne!(digest(&xy), digest(&yx));
    }
}
