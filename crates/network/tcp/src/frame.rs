//! Length-prefixed framing: a `u32` big-endian payload length, then the payload.
//!
//! The length is checked against the caller's limit *before* anything is
//! allocated, so a peer announcing a 4 GiB frame costs four bytes of reading,
//! not four gigabytes of memory.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes of the length prefix in front of every frame.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Default largest payload of one frame: 16 MiB, room for a full block.
pub const FRAME_BYTES_MAX_DEFAULT: u32 = 16 * 1024 * 1024;

/// Why a frame could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The announced (or supplied) payload length exceeds the limit.
    #[error("frame payload of {len_bytes} bytes exceeds the limit of {max_bytes} bytes")]
    Oversized {
        /// The payload length announced by the prefix (or supplied to encode).
        len_bytes: u64,
        /// The limit in force.
        max_bytes: u64,
    },
}

/// Why reading a frame from a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameIoError {
    /// The peer announced a frame larger than allowed; nothing was allocated.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The stream failed, or ended in the middle of a frame.
    #[error("frame read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The length prefix for a payload of `len_bytes`, or `Oversized` when it does
/// not fit `frame_bytes_max` (which itself is at most `u32::MAX`).
pub fn frame_header(
    len_bytes: usize,
    frame_bytes_max: u32,
) -> Result<[u8; LENGTH_PREFIX_BYTES], FrameError> {
    if len_bytes > frame_bytes_max as usize {
        return Err(FrameError::Oversized {
            len_bytes: len_bytes as u64,
            max_bytes: u64::from(frame_bytes_max),
        });
    }
    // The check above bounds the length by a u32, so the cast is exact.
    Ok((len_bytes as u32).to_be_bytes())
}

/// Encodes one frame (prefix and payload) into a fresh buffer.
pub fn encode_frame(payload: &[u8], frame_bytes_max: u32) -> Result<Vec<u8>, FrameError> {
    let header = frame_header(payload.len(), frame_bytes_max)?;
    let mut out = Vec::with_capacity(LENGTH_PREFIX_BYTES + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Decodes the first frame of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold a whole frame (more bytes
/// are needed), `Ok(Some((payload, consumed)))` when it does, where
/// `consumed` counts the prefix too, and `Oversized` as soon as the prefix
/// announces more than `frame_bytes_max`, without waiting for the payload.
pub fn decode_frame(
    buf: &[u8],
    frame_bytes_max: u32,
) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(prefix) = buf.first_chunk::<LENGTH_PREFIX_BYTES>() else {
        return Ok(None);
    };
    let len = check_len(*prefix, frame_bytes_max)?;
    let end = LENGTH_PREFIX_BYTES + len;
    Ok(buf.get(LENGTH_PREFIX_BYTES..end).map(|payload| (payload, end)))
}

/// Interprets a length prefix, rejecting one above `frame_bytes_max`.
fn check_len(prefix: [u8; LENGTH_PREFIX_BYTES], frame_bytes_max: u32) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix);
    if len > frame_bytes_max {
        return Err(FrameError::Oversized {
            len_bytes: u64::from(len),
            max_bytes: u64::from(frame_bytes_max),
        });
    }
    Ok(len as usize)
}

/// Reads one frame's payload from `reader`.
///
/// Returns `Ok(None)` on a clean end of stream at a frame boundary; an end of
/// stream inside a frame is an `UnexpectedEof` I/O error. The payload buffer
/// is allocated only after its length passed the limit.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    frame_bytes_max: u32,
) -> Result<Option<Vec<u8>>, FrameIoError> {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
    let mut filled = 0;
    while filled < LENGTH_PREFIX_BYTES {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        filled += n;
    }
    let len = check_len(prefix, frame_bytes_max)?;
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await?;
    Ok(Some(payload))
}

/// Writes one frame whose payload is the concatenation of `parts` (so a
/// message and its trailer need not be copied together). Does not flush.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    parts: &[&[u8]],
    frame_bytes_max: u32,
) -> Result<(), FrameIoError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let header = frame_header(len, frame_bytes_max)?;
    writer.write_all(&header).await?;
    for part in parts {
        writer.write_all(part).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decode_waits_for_whole_frame() {
        let frame = encode_frame(b"hello", 16).unwrap();
        for cut in 0..frame.len() {
            assert_eq!(decode_frame(&frame[..cut], 16), Ok(None), "cut at {cut}");
        }
        assert_eq!(decode_frame(&frame, 16), Ok(Some((&b"hello"[..], 9))));
    }

    #[test]
    fn oversized_prefix_is_rejected_before_payload() {
        let prefix = u32::MAX.to_be_bytes();
        let err = decode_frame(&prefix, 1024).unwrap_err();
        assert_eq!(err, FrameError::Oversized { len_bytes: u64::from(u32::MAX), max_bytes: 1024 });
        assert!(encode_frame(&[0; 17], 16).is_err());
    }

    #[tokio::test]
    async fn stream_round_trip_and_eof_handling() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &[b"ab", b"cd"], 16).await.unwrap();
        write_frame(&mut wire, &[], 16).await.unwrap();
        let mut reader = &wire[..];
        assert_eq!(read_frame(&mut reader, 16).await.unwrap(), Some(b"abcd".to_vec()));
        assert_eq!(read_frame(&mut reader, 16).await.unwrap(), Some(Vec::new()));
        assert_eq!(read_frame(&mut reader, 16).await.unwrap(), None);
        let mut truncated = &wire[..5];
        assert!(matches!(read_frame(&mut truncated, 16).await, Err(FrameIoError::Io(_))));
        let mut oversized = &wire[..];
        assert!(matches!(read_frame(&mut oversized, 3).await, Err(FrameIoError::Frame(_))));
    }

    proptest! {
        #[test]
        fn frames_round_trip(payloads in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let mut wire = Vec::new();
            for p in &payloads {
                wire.extend(encode_frame(p, 300).unwrap());
            }
            let mut rest = &wire[..];
            for p in &payloads {
                let (payload, used) = decode_frame(rest, 300).unwrap().unwrap();
                prop_assert_eq!(payload, &p[..]);
                rest = &rest[used..];
            }
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                       max in 0u32..128) {
            match decode_frame(&bytes, max) {
                Ok(Some((payload, used))) => {
                    prop_assert!(used <= bytes.len());
                    prop_assert_eq!(payload.len() + LENGTH_PREFIX_BYTES, used);
                    prop_assert!(payload.len() <= max as usize);
                }
                Ok(None) => prop_assert!(bytes.len() < LENGTH_PREFIX_BYTES
                    || u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize
                        > bytes.len() - LENGTH_PREFIX_BYTES),
                Err(FrameError::Oversized { len_bytes, .. }) => {
                    prop_assert!(len_bytes > u64::from(max));
                }
            }
        }
    }
}
