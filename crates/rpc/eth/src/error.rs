//! JSON-RPC error objects and the server's own error type.
//!
//! Codes follow geth so that tools recognise them: -32602 for malformed
//! parameters, -32000 for requests the node cannot serve, 3 for reverts
//! (with the revert bytes as `data`), -32005 for exceeded query limits and
//! -32603 for internal failures.

use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;

use crate::backend::BackendError;

/// JSON-RPC code for malformed parameters.
pub const INVALID_PARAMS_CODE: i32 = -32602;
/// JSON-RPC code for internal failures.
pub const INTERNAL_ERROR_CODE: i32 = -32603;
/// geth's generic "server error" code.
pub const SERVER_ERROR_CODE: i32 = -32000;
/// geth's code for a reverted call or estimate.
pub const REVERT_CODE: i32 = 3;
/// Code for a query that exceeds a configured limit (as Infura and others).
pub const LIMIT_EXCEEDED_CODE: i32 = -32005;

/// Errors starting or stopping the server.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server was already stopped.
    #[error("the RPC server is already stopped")]
    AlreadyStopped,
}

/// A -32602 error with a message saying what is wrong.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, message.into(), None::<()>)
}

/// A -32000 error (geth's generic server error).
pub fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR_CODE, message.into(), None::<()>)
}

/// A -32005 error for a query that exceeds a configured bound.
pub fn limit_exceeded(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED_CODE, message.into(), None::<()>)
}

/// A -32603 error.
pub fn internal_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR_CODE, message.into(), None::<()>)
}

/// Maps a backend failure to its JSON-RPC error.
pub fn backend_error(e: BackendError) -> ErrorObjectOwned {
    match e {
        BackendError::Rejected { code, message } => {
            ErrorObjectOwned::owned(code, message, None::<()>)
        }
        e @ BackendError::StateUnavailable { .. } => server_error(e.to_string()),
        BackendError::InvalidRequest { message } => server_error(message),
        e @ BackendError::Internal { .. } => internal_error(e.to_string()),
    }
}

/// geth's revert error: code 3, "execution reverted" (plus ": reason" when the
/// data is an ABI `Error(string)`), and the revert bytes as hex `data`.
pub fn revert_error(output: &Bytes) -> ErrorObjectOwned {
    let message = match decode_revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(REVERT_CODE, message, Some(output.to_string()))
}

/// The selector of Solidity's `Error(string)`.
const ERROR_STRING_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];

/// Decodes ABI `Error(string)` revert data; `None` for anything else
/// (including truncated or inconsistent encodings).
pub fn decode_revert_reason(data: &[u8]) -> Option<String> {
    let body = data.strip_prefix(&ERROR_STRING_SELECTOR[..])?;
    let offset = read_word_as_usize(body, 0)?;
    let len = read_word_as_usize(body, offset)?;
    let start = offset.checked_add(32)?;
    let end = start.checked_add(len)?;
    let bytes = body.get(start..end)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// The 32-byte big-endian word at `at` as a usize, `None` if out of range.
fn read_word_as_usize(data: &[u8], at: usize) -> Option<usize> {
    let word = data.get(at..at.checked_add(32)?)?;
    let (high, low) = word.split_at(24);
    if high.iter().any(|b| *b != 0) {
        return None;
    }
    usize::try_from(u64::from_be_bytes(low.try_into().ok()?)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn decodes_error_string() {
        // Error("boom") as solc encodes it.
        let data = hex!(
            "08c379a0"
            "0000000000000000000000000000000000000000000000000000000000000020"
            "0000000000000000000000000000000000000000000000000000000000000004"
            "626f6f6d00000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(decode_revert_reason(&data).as_deref(), Some("boom"));
        let err = revert_error(&Bytes::from(data.to_vec()));
        assert_eq!(err.code(), 3);
        assert_eq!(err.message(), "execution reverted: boom");
        assert!(err.data().unwrap().get().starts_with("\"0x08c379a0"));
    }

    #[test]
    fn non_string_revert_has_plain_message() {
        let err = revert_error(&Bytes::from_static(&[0xde, 0xad]));
        assert_eq!(err.message(), "execution reverted");
        assert_eq!(err.data().unwrap().get(), "\"0xdead\"");
        assert_eq!(decode_revert_reason(&[0x08, 0xc3, 0x79, 0xa0, 1]), None);
        assert_eq!(decode_revert_reason(&[]), None);
    }
}
