// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title KVStore
/// @notice BLOCKBENCH's YCSB-style key-value store: one storage slot per key,
/// so which transactions conflict is exactly which keys they share.
contract KVStore {
    /// @notice Thrown by setMany when the key and value arrays differ in length.
    error LengthMismatch(uint256 keys, uint256 values);

    /// @notice Thrown by setMany when asked to write more than SET_MANY_MAX keys.
    error TooManyKeys(uint256 keys, uint256 max);

    /// @notice The most keys one setMany call writes (keeps a call's gas bounded).
    uint256 public constant SET_MANY_MAX = 256;

    mapping(bytes32 => bytes32) private store;

    /// @notice Stores value under key (a zero value deletes the key).
    function set(bytes32 key, bytes32 value) external {
        store[key] = value;
    }

    /// @notice The value stored under key, zero if none.
    function get(bytes32 key) external view returns (bytes32) {
        return store[key];
    }

    /// @notice Stores values[i] under keys[i] for every i, in order.
    function setMany(bytes32[] calldata keys, bytes32[] calldata values) external {
        if (keys.length != values.length) {
            revert LengthMismatch(keys.length, values.length);
        }
        if (keys.length > SET_MANY_MAX) {
            revert TooManyKeys(keys.length, SET_MANY_MAX);
        }
        for (uint256 i = 0; i < keys.length; i++) {
            store[keys[i]] = values[i];
        }
    }
}
