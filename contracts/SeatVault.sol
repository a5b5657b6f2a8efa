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
/// - While the validator runs the vault does not hold the principal: the beacon chain only
///   sends rewards here (partial withdrawals, a few thousandths of an ether a day). The
///   principal arrives in one full withdrawal after the validator exits.
/// - The principal counts as present only while `address(this).balance >=
///   PRINCIPAL_ARRIVAL_THRESHOLD` (8 ether): a full withdrawal brings far more at once (the
///   consensus layer ejects a validator when its effective balance falls to 16 ether, so
///   even a leaked or slashed exit lands well above 8), while rewards accrue far slower
///   and are claimed regularly. Then the reserved principal
///   is `min(balance, principalOutstanding)`; below the threshold nothing is reserved and
///   the whole balance is rewards.
/// - Rewards are the balance minus the reserved principal (`claimable`). `claim` sends them
///   to the `beneficiary`, and may be called by the beneficiary or by a claim executor whose
///   grant is still running: `block.timestamp < expiresAt` (a grant with
///   `expiresAt = T` is usable in blocks stamped up to T - 1 and refused from T on).
/// - `returnPrincipal` moves only the reserved principal, and reverts with
///   `PrincipalNotArrived` below the threshold, so it can never sweep rewards. Above the
///   threshold principal is served first: a short exit that still brings at least 8 ether
///   (slashing) is reserved in full and shortchanges rewards, not principal.
///
/// Known limitations of the threshold rule:
/// - An exit that returns less than 8 ether (a slashing far beyond today's penalties) is
///   indistinguishable from rewards: it becomes claimable by the beneficiary and `returnPrincipal` refuses it.
///   The principal must then be recovered some other way (off-chain settlement with the
///   beneficiary).
/// - Rewards left unclaimed until they reach 8 ether on their own (years at the current
///   rate), or ether sent to the vault by a third party that lifts it over the threshold,
///   are treated as arrived principal (up to `principalOutstanding`) until returned.
///
/// The owner is the factory's current owner, read on every call, so a change of the
/// factory owner (key rotation, hand-over to a multisig) moves every vault at once.
contract SeatVault {
    /// The factory that deployed the implementation; clones inherit it through the code.
    address public immutable factory;

    /// A balance at or above this means the principal's full withdrawal has arrived.
    uint256 public constant PRINCIPAL_ARRIVAL_THRESHOLD = 8 ether;

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
    error PrincipalNotArrived();
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

    /// The principal the vault holds now: none below `PRINCIPAL_ARRIVAL_THRESHOLD` (only
    /// rewards have arrived), otherwise as much of the outstanding principal as it holds.
    function reservedPrincipal() public view returns (uint256) {
        uint256 balance = address(this).balance;
        if (balance < PRINCIPAL_ARRIVAL_THRESHOLD) return 0;
        return balance < principalOutstanding ? balance : principalOutstanding;
    }

    /// The rewards `claim` would pay now: the balance minus the reserved principal.
    function claimable() public view returns (uint256) {
        return address(this).balance - reservedPrincipal();
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

    /// Send the reserved principal (see `reservedPrincipal`) back to the principal
    /// destination. Reverts with `PrincipalNotArrived` while the balance is under
    /// `PRINCIPAL_ARRIVAL_THRESHOLD`, so it never moves rewards. The destination is fixed at
    /// initialisation; callers only choose when.
    function returnPrincipal() external nonReentrant returns (uint256 amount) {
        if (msg.sender != owner() && msg.sender != principalDestination) {
            revert NotPrincipalAuthorized();
        }
        if (principalOutstanding == 0) revert NothingToReturn();
        if (address(this).balance < PRINCIPAL_ARRIVAL_THRESHOLD) revert PrincipalNotArrived();
        amount = reservedPrincipal();
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
