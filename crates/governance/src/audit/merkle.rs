//! RFC 6962 Merkle tree hashes over leaf hashes, so a checkpoint commits to every entry up to its size and
//! not only to the last chain value.
//!
//! Interior node = `SHA-256(0x01 ‖ left ‖ right)`; a tree of `n` leaves splits at the largest power of two
//! below `n`; the empty tree hashes to `SHA-256("")`.

use sha2::{Digest, Sha256};

/// The hash of an interior node.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

fn empty_root() -> [u8; 32] {
    Sha256::digest([]).into()
}

/// The root of a tree over `leaves`, straight from the RFC's recursive definition. O(n) memory; the
/// reference [`CompactRange`] is checked against.
pub fn root_of(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n` (for `n >= 2`).
fn split_point(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The hashes of the perfect subtrees covering the leaves pushed so far, largest (leftmost) first: a
/// running tree root in O(log n) memory, so a verifier can stream millions of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// One hash per set bit of `size`, from the most significant bit down.
    stack: Vec<[u8; 32]>,
}

impl CompactRange {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, leaf: [u8; 32]) {
        self.size += 1;
        // Each trailing zero of the new size is a pair of equal-sized subtrees to merge.
        let mut node = leaf;
        for _ in 0..self.size.trailing_zeros() {
            match self.stack.pop() {
                Some(left) => node = node_hash(&left, &node),
                None => break,
            }
        }
        self.stack.push(node);
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root of all leaves pushed so far: the subtrees folded right to left.
    pub fn root(&self) -> [u8; 32] {
        let mut hashes = self.stack.iter().rev();
        let Some(last) = hashes.next() else {
            return empty_root();
        };
        hashes.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::leaf_hash;

    #[test]
    fn compact_range_matches_the_recursive_definition() {
        let leaves: Vec<[u8; 32]> = (0..70).map(|_| rand::random()).collect();
        let mut range = CompactRange::new();
        assert_eq!(range.root(), root_of(&[]));
        for n in 1..=leaves.len() {
            range.push(leaves[n - 1]);
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.root(), root_of(&leaves[..n]), "size {n}");
            assert!(range.stack.len() <= 7);
        }
    }

    /// The reference roots from Certificate Transparency's test data (certificate-transparency-go).
    #[test]
    fn matches_rfc6962_reference_roots() {
        let inputs: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves: Vec<[u8; 32]> = inputs.iter().map(|e| leaf_hash(e)).collect();
        let mut range = CompactRange::new();
        assert_eq!(hex::encode(range.root()), roots[0]);
        for (n, leaf) in leaves.iter().enumerate() {
            range.push(*leaf);
            assert_eq!(hex::encode(range.root()), roots[n + 1], "size {}", n + 1);
            assert_eq!(hex::encode(root_of(&leaves[..=n])), roots[n + 1]);
        }
    }
}
