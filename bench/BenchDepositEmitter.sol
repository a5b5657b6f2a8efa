// SPDX-License-Identifier: CC0-1.0
pragma solidity ^0.8.28;

/// @title Bench-only emitter of official-shape DepositEvents, many per transaction.
/// @notice Emits the deposit contract's exact event (same signature, same 576-byte data
/// layout, little-endian amount and index) and answers get_deposit_count() the same way,
/// so the EL watcher indexes and checks it exactly as the real contract. It moves no
/// ether and builds no Merkle tree: it exists to put 20,000+ deposits on a local chain in
/// seconds. Compiled by bench/bench_el_catchup.py at run time; never deployed anywhere.
contract BenchDepositEmitter {
    event DepositEvent(bytes pubkey, bytes withdrawal_credentials, bytes amount, bytes signature, bytes index);

    uint64 private deposit_count;

    function emitDeposits(uint256 n, bytes32 seed) external {
        bytes memory pubkey = new bytes(48);
        bytes memory credentials = abi.encodePacked(bytes1(0x01), bytes11(0), address(this));
        bytes memory amount = to_little_endian_64(32 * 10 ** 9);
        bytes memory signature = abi.encodePacked(seed, seed, seed);
        bytes memory index = new bytes(8);
        uint64 count = deposit_count;
        for (uint256 i = 0; i < n; i++) {
            bytes32 key = keccak256(abi.encodePacked(seed, i));
            bytes8 le = bytes8(to_little_endian_64(count));
            assembly {
                mstore(add(pubkey, 32), key)
                mstore(add(pubkey, 64), or(and(mload(add(pubkey, 64)), not(shl(128, not(0)))), shl(128, i)))
                mstore(add(index, 32), le)
            }
            emit DepositEvent(pubkey, credentials, amount, signature, index);
            count++;
        }
        deposit_count = count;
    }

    function get_deposit_count() external view returns (bytes memory) {
        return to_little_endian_64(deposit_count);
    }

    function to_little_endian_64(uint64 value) internal pure returns (bytes memory ret) {
        ret = new bytes(8);
        bytes8 bytesValue = bytes8(value);
        ret[0] = bytesValue[7];
        ret[1] = bytesValue[6];
        ret[2] = bytesValue[5];
        ret[3] = bytesValue[4];
        ret[4] = bytesValue[3];
        ret[5] = bytesValue[2];
        ret[6] = bytesValue[1];
        ret[7] = bytesValue[0];
    }
}
