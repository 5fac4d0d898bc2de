//! Socket tests of the network on 127.0.0.1: one test binary, several modules.

mod adversarial;
mod cluster;
mod support;
