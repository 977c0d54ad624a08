"""Catch what no callback brought: list the Pix the provider received and apply ours, once.

Every ``PIX_PSP_RECONCILE_SECONDS`` (the background loop) or on demand (``flask psp
reconcile``), ``GET /pix?inicio=&fim=`` is read page after page, from a little before where the
last run ended to now. One process at a time does it (a lease); each Pix is applied once
whatever the number of processes or runs, by the rule of one receipt per endToEndId
(``payments.bank.receipts``). Open refunds are followed up in the same run.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask

from payments.bank import receipts
from payments.charges.models import utcnow
from payments.extensions import db, socketio
from payments.psp import leases, refunds
from payments.psp.callbacks import apply_known, provider_item
from payments.psp.client import client

LEASE = "reconcile"
#: A run may hold the lease this long; one that dies frees it then.
LEASE_SECONDS = 300
#: Each window starts this long before the last one ended: a Pix settled at the edge (the
#: provider's clock, our clock) is listed again rather than missed; applying it twice is a no-op.
OVERLAP = timedelta(minutes=10)
#: The first run looks this far back: the longest a charge lives (7 days).
FIRST_WINDOW = timedelta(days=7)


@dataclass
class Summary:
    """What one run did."""

    listed: int = 0
    applied: int = 0
    refunds: int = 0


def reconcile() -> Summary | None:
    """List received Pix and apply what is ours; return what was done, or None if another ran."""
    owner = leases.owner_name()
    now = utcnow()
    mark = leases.acquire(LEASE, owner, LEASE_SECONDS, now)
    if mark is False:
        return None
    summary = Summary()
    done = None
    try:
        start = (mark - OVERLAP) if mark else now - FIRST_WINDOW
        for data in client().list_pix(start, now):
            summary.listed += 1
            item = provider_item(data)
            if item is None or receipts.find_by_txid(item.txid) is None:
                continue  # not a charge of ours (a Pix to the key without our txid)
            summary.applied += apply_known(item, data).changes
        summary.refunds = refunds.follow_open()
        done = now
    finally:
        db.session.rollback()
        leases.release(LEASE, owner, done)
    return summary


#: Per app: when this process last started a run, and whether one is running.
_STATE = "psp_reconcile"


def maybe_start(app: Flask) -> None:
    """From the background tick: start a run in a task of its own when one is due here.

    The tick never waits for the provider; a run still going is never doubled in a process.
    """
    cfg = app.config
    if not cfg.get("PIX_PSP_URL"):
        return
    state = app.extensions.setdefault(_STATE, {"last": None, "running": False})
    now = utcnow()
    due = state["last"] is None or \
        now - state["last"] >= timedelta(seconds=cfg["PIX_PSP_RECONCILE_SECONDS"])
    if state["running"] or not due:
        return
    state["running"], state["last"] = True, now
    socketio.start_background_task(_run, app, state)


def _run(app: Flask, state: dict) -> None:
    try:
        with app.app_context():
            reconcile()
    except Exception as exc:  # the provider or the database: next time
        app.logger.warning("reconciliation with the Pix provider failed: %s",
                           getattr(exc, "message", type(exc).__name__))
    finally:
        state["running"] = False
        with app.app_context():
            db.session.remove()
