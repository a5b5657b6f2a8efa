"""Errors of the execution-layer watcher cycle, and which of them stop the watcher.

    ChainError
     └── ElWatcherError               the cycle refused to record what it saw
          ├── ElWatcherHalt           stop the watcher: continuing could record a lie
          │    └── ReorgTooDeep       the cursor block was reorganised away and no
          │                           stored block hash within the window is canonical
          ├── IndexIncomplete         the indexed deposits do not add up to the deposit
          │                           contract's get_deposit_count() at the scanned block
          ├── DepositCountUnavailable the node would not run get_deposit_count() at the
          │                           scanned block (no state that old: not an archive
          │                           node); the range cannot be proven complete
          ├── ChainMovedDuringScan    the node switched branches while a range was read
          │                           (hashes or parent links disagree), or its head is
          │                           behind the cursor (a lagging node); retry
          └── CursorMoved             another process moved the cursor under this cycle

Everything but ``ElWatcherHalt`` is retryable: the runner logs `lifecycle watcher loop
error`, waits, and calls the cycle again, which resumes from the stored cursor. RPC
failures surface as the chain adapters' ``RpcError`` subclasses, also retryable.
None of these leave a partial write: the cycle commits a range only after every check.
"""

from __future__ import annotations

from seat_manager.adapters.chain.errors import ChainError


class ElWatcherError(ChainError):
    default_code = "EL_WATCHER_ERROR"


class ElWatcherHalt(ElWatcherError):
    """The runner must stop the EL watcher (and say so loudly) instead of retrying."""

    default_code = "EL_WATCHER_HALTED"


class ReorgTooDeep(ElWatcherHalt):
    default_code = "EL_REORG_TOO_DEEP"


class IndexIncomplete(ElWatcherError):
    default_code = "EL_INDEX_INCOMPLETE"


class DepositCountUnavailable(ElWatcherError):
    default_code = "EL_DEPOSIT_COUNT_UNAVAILABLE"


class ChainMovedDuringScan(ElWatcherError):
    default_code = "EL_CHAIN_MOVED_DURING_SCAN"


class CursorMoved(ElWatcherError):
    default_code = "EL_CURSOR_MOVED"
