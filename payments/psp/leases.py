"""One process at a time: a lease on a named job, a row any database arbitrates.

``acquire`` is one conditional UPDATE (the lease is free or its holder's time ran out), so of
several processes exactly one wins, on SQLite and PostgreSQL alike; a holder that dies frees
it when its time runs out. The row also keeps the job's ``mark`` (how far it got).
"""

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from payments.charges.models import utcnow
from payments.extensions import db
from payments.psp.models import PspLease

_TABLE = PspLease.__table__


def owner_name() -> str:
    """Return a name for this holder: host, process and a random part (several per process)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(name: str, owner: str, seconds: float, now: datetime | None = None
            ) -> datetime | None | bool:
    """Take the lease ``name`` for ``seconds``; return its mark (None: never run), or False."""
    now = now or utcnow()
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(_TABLE), {"name": name})
    except IntegrityError:
        pass  # it exists: take it below if it is free
    with db.engine.begin() as connection:
        taken = connection.execute(
            update(_TABLE)
            .where(_TABLE.c.name == name, or_(_TABLE.c.until.is_(None), _TABLE.c.until < now))
            .values(owner=owner, until=now + timedelta(seconds=seconds))).rowcount
        if taken != 1:
            return False
        return connection.execute(select(_TABLE.c.mark).where(_TABLE.c.name == name)).scalar()


def release(name: str, owner: str, mark: datetime | None = None) -> None:
    """Give the lease back; with ``mark``, remember how far the job got."""
    values: dict = {"owner": None, "until": None}
    if mark is not None:
        values["mark"] = mark
    with db.engine.begin() as connection:
        connection.execute(update(_TABLE).where(_TABLE.c.name == name, _TABLE.c.owner == owner)
                           .values(**values))
