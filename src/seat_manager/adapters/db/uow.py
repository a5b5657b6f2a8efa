"""The unit of work: one transaction, rolled back unless `commit()` is called.
Repositories share its session and never commit themselves."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from seat_manager.adapters.db.deposit_index import DepositIndexRepository
from seat_manager.adapters.db.repositories import (
    AuditRepository,
    OperationRepository,
    SeatRepository,
    WatcherStateRepository,
)
from seat_manager.domain.errors import Conflict


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        self._session = self._sessions()
        self.seats = SeatRepository(self._session)
        self.operations = OperationRepository(self._session)
        self.watcher_state = WatcherStateRepository(self._session)
        self.audit = AuditRepository(self._session)
        self.deposits = DepositIndexRepository(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> AsyncSession:
        """For repositories and queue functions that live in their own modules."""
        assert self._session is not None, "unit of work used outside `async with`"
        return self._session

    async def flush(self) -> None:
        """Send pending writes now, so a database rule that refuses them fails here."""
        assert self._session is not None
        await self._session.flush()

    async def commit(self) -> None:
        assert self._session is not None
        try:
            await self._session.commit()
        except IntegrityError as exc:
            raise Conflict("the store refused the change: " + constraint_of(exc)) from exc


def constraint_of(exc: IntegrityError) -> str:
    """The name of the rule an IntegrityError broke, in the same words on both drivers."""
    text = str(exc.orig)
    for name, hint in (
        ("uniq_seats_active_operator_id", "seats.operator_id"),
        ("uniq_seats_validator_pubkey", "seats.validator_pubkey"),
        ("uniq_operations_live_seat_kind", "operations.seat_id, operations.kind"),
        ("pk_seats", "seats.seat_id"),
    ):
        if name in text or hint in text:
            return name
    return "integrity"


class UnitOfWorkFactory:
    """Builds a fresh unit of work per use case."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)
