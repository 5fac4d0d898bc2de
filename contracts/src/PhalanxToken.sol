// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title PhalanxToken
/// @notice A plain OpenZeppelin ERC-20 used by Phalanx's load generator, its
/// end-to-end tests and its benchmarks. The whole initial supply is minted to
/// the deployer, who then distributes it.
contract PhalanxToken is ERC20 {
    /// @param name_ The token name.
    /// @param symbol_ The token symbol.
    /// @param initialSupply The amount (in the smallest unit) minted to msg.sender.
    constructor(string memory name_, string memory symbol_, uint256 initialSupply)
        ERC20(name_, symbol_)
    {
        _mint(msg.sender, initialSupply);
    }
}
