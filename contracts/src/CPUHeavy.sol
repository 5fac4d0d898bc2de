// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title CPUHeavy
/// @notice BLOCKBENCH's CPUHeavy workload: computation-bound calls (Fibonacci
/// and quicksort over an in-memory array) that each also fold their result into
/// one storage slot chosen by a key argument, so conflicts are tunable.
contract CPUHeavy {
    /// @notice Thrown when an argument exceeds its bound.
    error TooLarge(uint256 value, uint256 max);

    /// @notice Thrown if quicksort left the array unsorted (never expected).
    error NotSorted(uint256 index);

    /// @notice The largest n fib accepts.
    uint256 public constant FIB_N_MAX = 1_000_000;

    /// @notice The largest array sort accepts.
    uint256 public constant SORT_SIZE_MAX = 100_000;

    /// @notice The running digest of every result stored under a key.
    mapping(bytes32 => uint256) public results;

    /// @notice The n-th Fibonacci number modulo 2^256, computed iteratively.
    function fib(uint256 n) public pure returns (uint256) {
        if (n > FIB_N_MAX) {
            revert TooLarge(n, FIB_N_MAX);
        }
        uint256 a = 0;
        uint256 b = 1;
        unchecked {
            for (uint256 i = 0; i < n; i++) {
                (a, b) = (b, a + b);
            }
        }
        return a;
    }

    /// @notice Quicksorts `size` pseudo-random words generated from `seed` in
    /// memory, checks the result is sorted and returns its median (0 if empty).
    function sort(uint256 size, uint256 seed) public pure returns (uint256) {
        if (size > SORT_SIZE_MAX) {
            revert TooLarge(size, SORT_SIZE_MAX);
        }
        if (size == 0) {
            return 0;
        }
        uint256[] memory data = new uint256[](size);
        uint256 x = seed;
        unchecked {
            // A 64-bit linear congruential generator (Knuth's MMIX constants).
            for (uint256 i = 0; i < size; i++) {
                x = (x * 6364136223846793005 + 1442695040888963407) & type(uint64).max;
                data[i] = x;
            }
        }
        quicksort(data, 0, size - 1);
        for (uint256 i = 1; i < size; i++) {
            if (data[i - 1] > data[i]) {
                revert NotSorted(i);
            }
        }
        return data[size / 2];
    }

    /// @notice fib(n), folded into results[key].
    function fibAndStore(uint256 n, bytes32 key) external returns (uint256 r) {
        r = fib(n);
        store(key, r);
    }

    /// @notice sort(size, seed), folded into results[key].
    function sortAndStore(uint256 size, uint256 seed, bytes32 key) external returns (uint256 r) {
        r = sort(size, seed);
        store(key, r);
    }

    /// @dev Hashes the previous digest with the new result: every call changes
    /// the slot (so each one is a real write) and reads it first (so calls on
    /// one key form a true read-after-write chain).
    function store(bytes32 key, uint256 r) private {
        results[key] = uint256(keccak256(abi.encode(results[key], r)));
    }

    /// @dev Hoare-partition quicksort of data[lo..hi] (inclusive). Recurses
    /// into the smaller side and loops on the larger, so the recursion depth
    /// stays below log2(size) whatever the input.
    function quicksort(uint256[] memory data, uint256 lo, uint256 hi) private pure {
        while (lo < hi) {
            uint256 pivot = data[lo + (hi - lo) / 2];
            uint256 i = lo;
            uint256 j = hi;
            while (true) {
                while (data[i] < pivot) {
                    i++;
                }
                while (data[j] > pivot) {
                    j--;
                }
                if (i >= j) {
                    break;
                }
                (data[i], data[j]) = (data[j], data[i]);
                i++;
                j--;
            }
            // Now data[lo..j] <= pivot <= data[j+1..hi], and lo <= j < hi.
            if (j - lo < hi - j) {
                quicksort(data, lo, j);
                lo = j + 1;
            } else {
                quicksort(data, j + 1, hi);
                hi = j;
            }
        }
    }
}
