// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IDepositContract} from "./IDepositContract.sol";
import {SeatVault} from "./SeatVault.sol";

/// @title Deploys one SeatVault per seat and makes the seat's 32 ETH deposit.
/// @notice Vaults are EIP-1167 minimal-proxy clones of one implementation, created with
/// CREATE2 and salt = keccak256(bytes(seatId)). The clone's init code depends only on
/// the implementation address, so one `vaultInitCodeHash()` predicts every seat's vault:
/// address = keccak256(0xff ++ factory ++ salt ++ vaultInitCodeHash())[12:].
///
/// The deposit path computes the withdrawal credentials on-chain from the vault address
/// (0x01 ++ 11 zero bytes ++ vault), never from the caller, and refuses to deposit unless
/// the deposit contract's root still equals the root the caller saw when it checked the
/// deposit data: a front-running deposit for the same pubkey in between changes the root
/// and makes ours revert instead of sending 32 ETH to someone else's credentials.
contract VaultFactory {
    uint256 public constant DEPOSIT_AMOUNT = 32 ether;

    IDepositContract public immutable depositContract;
    address public immutable vaultImplementation;

    address public owner;
    address public pendingOwner;

    event VaultDeployed(
        bytes32 indexed salt,
        address indexed vault,
        string seatId,
        address beneficiary,
        address principalDestination
    );
    event DepositMade(
        bytes32 indexed salt,
        address indexed vault,
        bytes pubkey,
        bytes32 depositDataRoot,
        bytes32 depositRoot,
        uint256 amount
    );
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error NotPendingOwner();
    error ZeroAddress();
    error VaultAlreadyDeployed(address vault);
    error VaultNotDeployed(address vault);
    error DeploymentFailed();
    error WrongDepositAmount(uint256 amount);
    error StaleDepositRoot(bytes32 expected, bytes32 actual);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor(IDepositContract depositContract_, address owner_) {
        if (address(depositContract_) == address(0) || owner_ == address(0)) revert ZeroAddress();
        depositContract = depositContract_;
        vaultImplementation = address(new SeatVault());
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    // ---- ownership (two steps, so a typo cannot hand every vault to a dead address) ----

    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner();
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    // ---- prediction ----

    function seatSalt(string calldata seatId) public pure returns (bytes32) {
        return keccak256(bytes(seatId));
    }

    /// keccak256 of the EIP-1167 creation code that clones `vaultImplementation`.
    function vaultInitCodeHash() public view returns (bytes32) {
        return keccak256(_cloneCreationCode());
    }

    function predictVault(string calldata seatId) external view returns (address) {
        return predictVaultForSalt(seatSalt(seatId));
    }

    function predictVaultForSalt(bytes32 salt) public view returns (address) {
        bytes32 digest = keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, vaultInitCodeHash()));
        return address(uint160(uint256(digest)));
    }

    /// The credentials a seat's validator must use: 0x01 ++ 11 zero bytes ++ vault.
    function withdrawalCredentials(string calldata seatId) external view returns (bytes memory) {
        return _withdrawalCredentials(predictVaultForSalt(seatSalt(seatId)));
    }

    // ---- mutations ----

    function deployVault(string calldata seatId, address beneficiary, address principalDestination)
        external
        onlyOwner
        returns (address vault)
    {
        bytes32 salt = seatSalt(seatId);
        address predicted = predictVaultForSalt(salt);
        if (predicted.code.length != 0) revert VaultAlreadyDeployed(predicted);
        bytes memory creationCode = _cloneCreationCode();
        assembly ("memory-safe") {
            vault := create2(0, add(creationCode, 0x20), mload(creationCode), salt)
        }
        if (vault == address(0) || vault != predicted) revert DeploymentFailed();
        SeatVault(payable(vault)).initialize(beneficiary, principalDestination);
        emit VaultDeployed(salt, vault, seatId, beneficiary, principalDestination);
    }

    /// Deposit exactly 32 ETH for the seat's validator, with credentials pointing at the
    /// seat's (already deployed) vault, if the deposit root is still `expectedDepositRoot`.
    function deposit(
        string calldata seatId,
        bytes calldata pubkey,
        bytes calldata signature,
        bytes32 depositDataRoot,
        bytes32 expectedDepositRoot
    ) external payable onlyOwner {
        if (msg.value != DEPOSIT_AMOUNT) revert WrongDepositAmount(msg.value);
        bytes32 salt = seatSalt(seatId);
        address vault = predictVaultForSalt(salt);
        if (vault.code.length == 0) revert VaultNotDeployed(vault);
        bytes32 actualRoot = depositContract.get_deposit_root();
        if (actualRoot != expectedDepositRoot) revert StaleDepositRoot(expectedDepositRoot, actualRoot);

        depositContract.deposit{value: msg.value}(pubkey, _withdrawalCredentials(vault), signature, depositDataRoot);
        SeatVault(payable(vault)).recordPrincipal(msg.value);
        emit DepositMade(salt, vault, pubkey, depositDataRoot, actualRoot, msg.value);
    }

    // ---- internals ----

    function _withdrawalCredentials(address vault) private pure returns (bytes memory) {
        return abi.encodePacked(bytes1(0x01), bytes11(0), vault);
    }

    /// The 55-byte EIP-1167 creation code (as OpenZeppelin's Clones emits it).
    function _cloneCreationCode() private view returns (bytes memory) {
        return abi.encodePacked(
            hex"3d602d80600a3d3981f3363d3d373d3d3d363d73",
            vaultImplementation,
            hex"5af43d82803e903d91602b57fd5bf3"
        );
    }
}
