//! Canonical unsigned LEB128 varints, limited to `u32`.
//!
//! The schedule is peer input, so the reader rejects every encoding that is
//! not the shortest one (a trailing zero group) and every value above
//! `u32::MAX`: each value then has exactly one encoding, which the codec's
//! canonicity (`encode(decode(b)) == b`) relies on.

/// The longest canonical encoding of a `u32`: 5 groups of 7 bits.
pub(crate) const VARINT_BYTES_MAX: usize = 5;

/// Why a varint did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// The value does not fit in a `u32`, or used more than 5 bytes.
    Overflow,
    /// The last byte was a zero group (a shorter encoding exists).
    NonCanonical,
}

/// Appends the canonical encoding of `value`.
pub(crate) fn write(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one canonical varint from the front of `input`, advancing it.
pub(crate) fn read(input: &mut &[u8]) -> Result<u32, VarintError> {
    let mut value: u64 = 0;
    for i in 0..VARINT_BYTES_MAX {
        let (&byte, rest) = input.split_first().ok_or(VarintError::Truncated)?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(VarintError::NonCanonical);
            }
            return u32::try_from(value).map_err(|_| VarintError::Overflow);
        }
    }
    Err(VarintError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let enc = |v| {
            let mut out = Vec::new();
            write(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x80, 0x01]);
        assert_eq!(enc(u32::MAX), [0xff, 0xff, 0xff, 0xff, 0x0f]);
    }

    #[test]
    fn rejects_bad_encodings() {
        let dec = |b: &[u8]| read(&mut &b[..]);
        assert_eq!(dec(&[]), Err(VarintError::Truncated));
        assert_eq!(dec(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(dec(&[0x80, 0x00]), Err(VarintError::NonCanonical));
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff, 0x1f]), Err(VarintError::Overflow));
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Err(VarintError::Overflow));
    }

    proptest! {
        #[test]
        fn roundtrip(v in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut buf = Vec::new();
            write(&mut buf, v);
            prop_assert!(buf.len() <= VARINT_BYTES_MAX);
            let len = buf.len();
            buf.extend_from_slice(&tail);
            let mut input = &buf[..];
            prop_assert_eq!(read(&mut input), Ok(v));
            prop_assert_eq!(input.len(), buf.len() - len);
        }

        /// Whatever decodes re-encodes to exactly the bytes consumed.
        #[test]
        fn canonical(bytes in proptest::collection::vec(any::<u8>(), 0..7)) {
            let mut input = &bytes[..];
            if let Ok(v) = read(&mut input) {
                let used = bytes.len() - input.len();
                let mut again = Vec::new();
                write(&mut again, v);
                prop_assert_eq!(&again[..], &bytes[..used]);
            }
        }
    }
}
