"""What `watch` runs: the lifecycle watchers (EL, CL) under one leader lock, and the
operation worker. Each part idles, with a log line saying why, when it is unconfigured."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from seat_manager.adapters.beacon import BeaconClient
from seat_manager.adapters.db.leader import LeaderLock, leader_lock
from seat_manager.bootstrap import Container
from seat_manager.domain.vaults import predict_vault_address
from seat_manager.workers.cl_metrics import ClMetrics
from seat_manager.workers.cl_watcher import ClWatcher
from seat_manager.workers.runner import PeriodicTask

log = logging.getLogger("seat_manager.watch")


@dataclass
class WatchCounts:
    """Operation outcomes of this process, printed when the watch loop stops."""

    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    requeued: int = 0


def build_watch_tasks(
    container: Container, counts: WatchCounts, stop: asyncio.Event | None = None
) -> list[PeriodicTask]:
    return [*_watcher_tasks(container), *_worker_tasks(container, counts, stop)]


def _watcher_tasks(container: Container) -> list[PeriodicTask]:
    """EL and CL lifecycle watchers; only the process holding the leader lock scans."""
    settings = container.settings
    tasks: list[PeriodicTask] = []
    leader = leader_lock(settings.store, container.engine)
    poll_s = settings.watch_poll_ms / 1000
    if settings.eth_rpc_url is None:
        log.warning("EL watcher idle: ETH_RPC_URL is not set, no deposits will be seen")
    else:
        tasks.append(_el_task(container, leader, poll_s))
    if settings.cl_beacon_api_url is None:
        log.info("CL watcher idle: SEAT_MANAGER_CL_BEACON_API_URL is not set")
    else:
        tasks.append(_cl_task(container, leader, poll_s))
    return tasks


def _el_task(container: Container, leader: LeaderLock, poll_s: float) -> PeriodicTask:
    from seat_manager.adapters.chain.rpc import RpcClient
    from seat_manager.workers.el_errors import ElWatcherHalt
    from seat_manager.workers.el_metrics import ElWatcherMetrics
    from seat_manager.workers.el_watcher import ElDepositWatcher

    settings = container.settings
    runtime = settings.require_runtime()
    assert settings.eth_rpc_url is not None
    rpc = RpcClient(settings.eth_rpc_url)
    watcher = ElDepositWatcher(
        rpc,
        container.uow,
        runtime.deposit_contract_address,
        start_block=settings.el_start_block,
        confirmations=settings.el_confirmations,
        reorg_window=settings.el_reorg_window,
        max_range=settings.el_max_block_range,
        metrics=ElWatcherMetrics(container.registry),
    )
    return PeriodicTask(
        "el", watcher.run_cycle, poll_s, leader=leader, fatal=(ElWatcherHalt,), close=rpc.aclose
    )


def _cl_task(container: Container, leader: LeaderLock, poll_s: float) -> PeriodicTask:
    settings = container.settings
    runtime = settings.require_runtime()
    assert settings.cl_beacon_api_url is not None
    beacon = BeaconClient(settings.cl_beacon_api_url, batch_size=settings.cl_poll_batch_size)

    def vault_for(seat_id: str) -> str:
        return predict_vault_address(
            runtime.vault_factory_address, seat_id, runtime.vault_init_code_hash
        )

    watcher = ClWatcher(
        container.uow,
        beacon,
        batch_size=settings.cl_poll_batch_size,
        metrics=ClMetrics(container.registry),
        vault_for=vault_for,
    )
    return PeriodicTask("cl", watcher.run_cycle, poll_s, leader=leader, close=beacon.aclose)


def _worker_tasks(
    container: Container, counts: WatchCounts, stop: asyncio.Event | None
) -> list[PeriodicTask]:
    """The operation worker; many processes may run it side by side.

    OWNER_SEND signs with the owner key and broadcasts; PROPOSE writes Safe proposals and
    a proposal watcher marks them succeeded once their effect is on chain; READ_ONLY
    claims and executes nothing.
    """
    from seat_manager.adapters.chain.executor import (
        Executor,
        ExecutorConfig,
        OwnerSendExecutor,
    )
    from seat_manager.adapters.chain.proposer import ProposeExecutor
    from seat_manager.adapters.chain.rpc import RpcClient
    from seat_manager.adapters.chain.signer import LocalSigner
    from seat_manager.workers.operation_worker import OperationWorker
    from seat_manager.workers.proposal_watcher import ProposalWatcher

    settings = container.settings
    mode = settings.operation_mode
    if mode == "READ_ONLY":
        log.info("operation worker idle: SEAT_MANAGER_OPERATION_MODE=READ_ONLY executes nothing")
        return []
    if settings.eth_rpc_url is None:
        log.warning("operation worker idle: ETH_RPC_URL is not set, nothing can be sent")
        return []
    config = ExecutorConfig.from_settings(settings)
    rpc = RpcClient(settings.eth_rpc_url)
    poll_s = settings.watch_poll_ms / 1000
    executor: Executor
    if mode == "OWNER_SEND":
        executor = OwnerSendExecutor(
            rpc, LocalSigner.from_settings(settings), container.uow, config
        )
    else:
        if settings.safe_address is None:
            log.warning("PROPOSE without SEAT_MANAGER_SAFE_ADDRESS: proposals carry no safeTxHash")
        executor = ProposeExecutor(rpc, container.uow, config, safe_address=settings.safe_address)
    worker = OperationWorker(
        container.uow,
        executor,
        lease_s=config.lease_s,
        counts=counts,
        max_attempts=settings.worker_max_attempts,
        concurrency=settings.worker_concurrency,
        stop=stop,
    )
    log.info("operation worker %s running in %s mode", worker.worker_id, mode)
    # proposals left from an earlier PROPOSE period still complete after a mode switch
    proposals = ProposalWatcher(rpc, container.uow, config)
    return [
        PeriodicTask("worker", worker.run_cycle, poll_s, close=rpc.aclose),
        PeriodicTask("proposals", proposals.run_cycle, poll_s),
    ]
