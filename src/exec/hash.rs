//! A 64-bit hash of text fixed by its definition (FNV-1a), so results that depend on it (the review draw)
//! never change with the engine's version, and a cheap key for finding repeated ids without holding them.

use polars::prelude::*;

/// FNV-1a, 64 bits.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The hash of the seed's eight little-endian bytes followed by the text's UTF-8 bytes.
pub fn hash(seed: u64, text: &str) -> u64 {
    fnv1a(seed.to_le_bytes().into_iter().chain(text.bytes()))
}

/// `hash(seed, ·)` of a text column, null for null.
pub fn text_hash(e: Expr, seed: u64) -> Expr {
    e.cast(DataType::String).map(
        move |c| {
            let keys: UInt64Chunked = c.str()?.iter().map(|t| t.map(|t| hash(seed, t))).collect();
            Ok(keys.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::UInt64)),
    )
}

/// An id for a row of an export that has none (`from: [a, b]`): `hash(0, ·)` of its values as text, joined
/// by a unit separator (a null written as NUL, apart from an empty text), as 16 hex digits. Two rows get one
/// id only if they agree on every column (or, once in about 10^8 pairs among a million rows, by chance).
pub fn id_of(columns: Vec<Expr>) -> Expr {
    let parts: Vec<Expr> = columns.into_iter().map(|c| c.cast(DataType::String).fill_null(lit("\u{0}"))).collect();
    concat_str(parts, "\u{1f}", false).map(
        |c| {
            let ids: StringChunked = c.str()?.iter().map(|t| t.map(|t| format!("{:016x}", hash(0, t)))).collect();
            Ok(ids.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::String)),
    )
}

/// Is each value's hash (seed 0) among sorted `hashes`? Null for null.
pub fn hash_in(e: Expr, hashes: &std::sync::Arc<Vec<u64>>) -> Expr {
    let hashes = hashes.clone();
    text_hash(e, 0).map(
        move |c| {
            let found: BooleanChunked = c.u64()?.iter().map(|h| h.map(|h| hashes.binary_search(&h).is_ok())).collect();
            Ok(found.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
    )
}

#[cfg(test)]
mod tests {
    use super::{fnv1a, hash};

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(hash(0, "a"), fnv1a([0, 0, 0, 0, 0, 0, 0, 0, b'a']));
        assert_ne!(hash(0, "a"), hash(1, "a"));
    }
}
