//! Tests over an in-memory mock backend: JSON shapes, the real server over
//! HTTP and WebSocket, and parameter fuzzing.

mod alloy_client;
mod fixtures;
mod fuzz;
mod logs;
mod methods;
mod mock;
mod server;
mod shapes;
