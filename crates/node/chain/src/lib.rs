//! phalanx-node-chain
