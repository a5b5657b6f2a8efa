// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

interface IClaimable {
    function claim() external returns (uint256);
    function returnPrincipal() external returns (uint256);
}

/// Test-only: a beneficiary / principal destination that tries to re-enter the vault
/// from its receive() and records how the vault answered.
contract ReentrantReceiver {
    IClaimable public vault;
    uint256 public received;
    uint256 public reentryAttempts;
    bytes public lastReentryError;
    bool public reentrySucceeded;

    function setVault(IClaimable vault_) external {
        vault = vault_;
    }

    receive() external payable {
        received += msg.value;
        if (reentryAttempts > 0) return;
        reentryAttempts += 1;
        try vault.claim() {
            reentrySucceeded = true;
        } catch (bytes memory reason) {
            lastReentryError = reason;
        }
    }
}
