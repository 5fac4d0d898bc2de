// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IUniswapV2Pair} from "@uniswap/v2-core/contracts/interfaces/IUniswapV2Pair.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title SwapHelper
/// @notice A minimal, stateless router: swaps an exact input amount on one
/// Uniswap V2 pair in a single transaction. The caller must have approved this
/// contract for `amountIn` of `tokenIn`.
contract SwapHelper {
    using SafeERC20 for IERC20;

    /// @notice Thrown when tokenIn is neither of the pair's tokens.
    error NotPairToken(address pair, address token);

    /// @notice Thrown when the pool would pay out less than amountOutMin.
    error InsufficientOutput(uint256 amountOut, uint256 amountOutMin);

    /// @notice Thrown when the pool has no liquidity or amountIn is zero.
    error NothingToSwap();

    /// @notice Uniswap V2's constant-product output for an exact input, with
    /// the 0.3% fee: the same formula as UniswapV2Library.getAmountOut.
    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        public
        pure
        returns (uint256)
    {
        if (amountIn == 0 || reserveIn == 0 || reserveOut == 0) {
            revert NothingToSwap();
        }
        uint256 amountInWithFee = amountIn * 997;
        return (amountInWithFee * reserveOut) / (reserveIn * 1000 + amountInWithFee);
    }

    /// @notice Moves amountIn of tokenIn from the caller into pair and swaps it
    /// for the pair's other token, paid to `to`. Returns the amount paid out.
    function swapExactIn(
        address pair,
        address tokenIn,
        uint256 amountIn,
        uint256 amountOutMin,
        address to
    ) external returns (uint256 amountOut) {
        IUniswapV2Pair p = IUniswapV2Pair(pair);
        address token0 = p.token0();
        bool zeroForOne = tokenIn == token0;
        if (!zeroForOne && tokenIn != p.token1()) {
            revert NotPairToken(pair, tokenIn);
        }
        (uint112 reserve0, uint112 reserve1,) = p.getReserves();
        (uint256 reserveIn, uint256 reserveOut) =
            zeroForOne ? (uint256(reserve0), uint256(reserve1)) : (uint256(reserve1), uint256(reserve0));
        amountOut = getAmountOut(amountIn, reserveIn, reserveOut);
        if (amountOut < amountOutMin) {
            revert InsufficientOutput(amountOut, amountOutMin);
        }
        IERC20(tokenIn).safeTransferFrom(msg.sender, pair, amountIn);
        (uint256 out0, uint256 out1) = zeroForOne ? (uint256(0), amountOut) : (amountOut, uint256(0));
        p.swap(out0, out1, to, new bytes(0));
    }
}
