// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The factory as the vault sees it: the only contract allowed to initialise a
/// vault and record deposited principal, and the source of the vault's owner.
interface IVaultOwnerSource {
    function owner() external view returns (address);
}

/// @title One seat's vault: the address the validator's withdrawal credentials point at.
/// @notice Deployed by the VaultFactory as an EIP-1167 clone of one implementation, so
/// every seat's vault shares one init-code hash and its address is predictable off-chain.
///
/// Money rules:
/// - `principalOutstanding` is the principal deposited through the factory for this vault
///   and not yet returned. It only ever goes to `principalDestination` (`returnPrincipal`).
/// - Rewards are the balance above `principalOutstanding`. `claim` sends them to the
///   `beneficiary`, and may be called by the beneficiary or by a claim executor whose
///   grant is still running: `block.timestamp < expiresAt` (a grant with
///   `expiresAt = T` is usable in blocks stamped up to T - 1 and refused from T on).
/// - Principal is served first: nothing is claimable while the balance is at or under the
///   outstanding principal, so a short exit (slashing) shortchanges rewards, not principal.
///
/// The owner is the factory's current owner, read on every call, so a change of the
/// factory owner (key rotation, hand-over to a multisig) moves every vault at once.
contract SeatVault {
    /// The factory that deployed the implementation; clones inherit it through the code.
    address public immutable factory;

    bool private initialized;
    bool private locked;
    address public beneficiary;
    address public principalDestination;
    uint256 public principalOutstanding;
    mapping(address executor => uint256 expiresAt) private claimExecutorExpiries;

    event VaultInitialized(address indexed beneficiary, address indexed principalDestination);
    event ClaimExecutorGranted(address indexed executor, uint256 expiresAt);
    event PrincipalRecorded(uint256 amount, uint256 principalOutstanding);
    event PrincipalReturned(address indexed to, uint256 amount, uint256 principalOutstanding);
    event RewardsClaimed(address indexed caller, address indexed beneficiary, uint256 amount);

    error AlreadyInitialized();
    error NotFactory();
    error NotOwner();
    error NotClaimAuthorized();
    error NotPrincipalAuthorized();
    error ZeroAddress();
    error NothingToClaim();
    error NothingToReturn();
    error Reentrancy();
    error TransferFailed();

    modifier onlyFactory() {
        if (msg.sender != factory) revert NotFactory();
        _;
    }

    modifier onlyOwner() {
        if (msg.sender != owner()) revert NotOwner();
        _;
    }

    modifier nonReentrant() {
        if (locked) revert Reentrancy();
        locked = true;
        _;
        locked = false;
    }

    constructor() {
        factory = msg.sender;
        // The implementation itself is never a vault: lock it so nobody can initialise it.
        initialized = true;
    }

    /// Called once by the factory in the same transaction that creates the clone.
    function initialize(address beneficiary_, address principalDestination_) external onlyFactory {
        if (initialized) revert AlreadyInitialized();
        if (beneficiary_ == address(0) || principalDestination_ == address(0)) revert ZeroAddress();
        initialized = true;
        beneficiary = beneficiary_;
        principalDestination = principalDestination_;
        emit VaultInitialized(beneficiary_, principalDestination_);
    }

    receive() external payable {}

    function owner() public view returns (address) {
        return IVaultOwnerSource(factory).owner();
    }

    /// Grant (or, with an expiry in the past or zero, revoke) the right to call `claim`.
    function grantClaimExecutor(address executor, uint256 expiresAt) external onlyOwner {
        if (executor == address(0)) revert ZeroAddress();
        claimExecutorExpiries[executor] = expiresAt;
        emit ClaimExecutorGranted(executor, expiresAt);
    }

    function claimExecutorExpiry(address executor) external view returns (uint256) {
        return claimExecutorExpiries[executor];
    }

    /// True while `executor` may call `claim` in a block stamped now.
    function claimExecutorAuthorized(address executor) public view returns (bool) {
        return block.timestamp < claimExecutorExpiries[executor];
    }

    /// The rewards `claim` would pay now: the balance above the outstanding principal.
    function claimable() public view returns (uint256) {
        uint256 balance = address(this).balance;
        return balance > principalOutstanding ? balance - principalOutstanding : 0;
    }

    function claim() external nonReentrant returns (uint256 amount) {
        if (msg.sender != beneficiary && !claimExecutorAuthorized(msg.sender)) {
            revert NotClaimAuthorized();
        }
        amount = claimable();
        if (amount == 0) revert NothingToClaim();
        address to = beneficiary;
        emit RewardsClaimed(msg.sender, to, amount);
        _send(to, amount);
    }

    /// Record principal the factory just deposited for this vault's validator.
    function recordPrincipal(uint256 amount) external onlyFactory {
        principalOutstanding += amount;
        emit PrincipalRecorded(amount, principalOutstanding);
    }

    /// Send back to the principal destination as much outstanding principal as the vault
    /// holds. The destination is fixed at initialisation; callers only choose when.
    function returnPrincipal() external nonReentrant returns (uint256 amount) {
        if (msg.sender != owner() && msg.sender != principalDestination) {
            revert NotPrincipalAuthorized();
        }
        uint256 balance = address(this).balance;
        amount = balance < principalOutstanding ? balance : principalOutstanding;
        if (amount == 0) revert NothingToReturn();
        principalOutstanding -= amount;
        address to = principalDestination;
        emit PrincipalReturned(to, amount, principalOutstanding);
        _send(to, amount);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
