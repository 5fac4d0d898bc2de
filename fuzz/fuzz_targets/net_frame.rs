//! Fuzzes what the network parses from peers: arbitrary bytes through the
//! frame decoder, and every decoded payload through the handshake decoders
//! (`Hello`, auth signature) and the signed-frame verifier. Nothing may
//! panic; a decoded frame or `Hello` must re-encode to exactly its bytes.

#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use phalanx_network_tcp::frame::{decode_frame, encode_frame};
use phalanx_network_tcp::frame_auth::FrameVerifier;
use phalanx_network_tcp::handshake::{decode_auth, Hello, Role, HANDSHAKE_FRAME_BYTES_MAX};

/// A small post-handshake limit, so both limits are reached by short inputs.
const FRAME_BYTES_MAX: u32 = 4096;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[1; 32]).verifying_key();
    let mut verifier = FrameVerifier::new(key, [0; 32], Role::Dialer);
    for max in [HANDSHAKE_FRAME_BYTES_MAX, FRAME_BYTES_MAX] {
        let mut rest = data;
        // Terminates: every decoded frame consumes at least its 4-byte prefix.
        while let Ok(Some((payload, used))) = decode_frame(rest, max) {
            assert!(payload.len() <= max as usize);
            assert_eq!(encode_frame(payload, max).unwrap(), rest[..used], "frame not canonical");
            if let Ok(hello) = Hello::decode(payload) {
                assert_eq!(hello.encode()[..], *payload, "hello not canonical");
            }
            let _ = decode_auth(payload);
            let _ = verifier.open(payload);
            rest = &rest[used..];
        }
    }
});
