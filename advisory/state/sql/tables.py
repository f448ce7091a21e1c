"""What a store of either engine holds over its one connection: the outbox, the
publishers' cache, the suppressions and the acknowledgements, and its transactions."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager

from advisory.state.sql.acks import SqlAcknowledgements
from advisory.state.sql.db import Db
from advisory.state.sql.outbox import SqlOutbox
from advisory.state.sql.publisher_cache import SqlPublisherCache
from advisory.state.sql.suppressions import SqlSuppressions

__all__ = ["Tables"]


class Tables:
    def __init__(self, db: Db, outbox: SqlOutbox | None = None) -> None:
        self.sql = db
        self._outbox = outbox or SqlOutbox(db)
        self._publishers = SqlPublisherCache(db)
        self._suppressions = SqlSuppressions(db)
        self._acks = SqlAcknowledgements(db)

    @property
    def outbox(self) -> SqlOutbox:
        return self._outbox

    @property
    def publishers(self) -> SqlPublisherCache:
        return self._publishers

    @property
    def suppressions(self) -> SqlSuppressions:
        return self._suppressions

    @property
    def acks(self) -> SqlAcknowledgements:
        return self._acks

    def transaction(self) -> AbstractContextManager[None]:
        return self.sql.transaction()

    def writing(self) -> AbstractAsyncContextManager[None]:
        return self.sql.writing()
