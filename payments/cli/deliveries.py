"""``flask deliveries``: the bank's webhook delivery log, listed, replayed and pruned."""

import json

import click
from flask import current_app

from payments.bank import deliveries as delivery_log
from payments.bank import routes as webhooks
from payments.bank.models import WebhookDelivery
from payments.charges.models import isoformat
from payments.cli.output import Group, fail


@click.group(cls=Group)
def deliveries() -> None:
    """Inspect, replay and prune the bank's webhook deliveries."""


def _signature_text(delivery: WebhookDelivery) -> str:
    return {True: "ok", False: "BAD", None: "unsigned"}[delivery.signature_ok]


@deliveries.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="How many of the latest deliveries to show.")
def list_deliveries(limit: int) -> None:
    """Show the latest deliveries, newest first."""
    rows = delivery_log.recent(limit)
    if not rows:
        click.echo("No deliveries yet.")
        return
    for row in rows:
        status = row.status_code if row.status_code is not None else (
            "..." if row.result is None else "-")  # "-": interrupted, never answered
        click.echo(f"#{row.id}  {isoformat(row.received_at)}  {row.route}  "
                   f"signature={_signature_text(row)}  {status}  {row.body_size} B"
                   f"{' (body not kept)' if delivery_log.body_kept(row) == 'none' else ''}  "
                   f"changes={row.changes if row.changes is not None else '-'}  {row.result or ''}")


@deliveries.command("replay")
@click.argument("delivery_id", type=int)
@click.option("--force", is_flag=True,
              help="Replay it even though its signature did not hold (it may be forged).")
def replay_delivery(delivery_id: int, force: bool) -> None:
    """Apply a recorded delivery's body again, without checking its signature again.

    A delivery whose signature failed when it came is refused unless --force.
    """
    delivery = delivery_log.get(delivery_id)
    if delivery is None:
        fail(f"No delivery #{delivery_id}")
    status, answer = webhooks.replay(delivery, force=force)
    click.echo(f"{status} {json.dumps(answer, ensure_ascii=False)}")
    if not 200 <= status < 300:
        raise SystemExit(1)




@deliveries.command("prune")
@click.option("--days", type=click.IntRange(1), default=None,
              help="Keep this many days instead of DELIVERY_LOG_RETENTION_DAYS.")
def prune_deliveries(days: int | None) -> None:
    """Delete the deliveries older than DELIVERY_LOG_RETENTION_DAYS (or --days) now.

    The server's background task does the same every minute.
    """
    days = days or current_app.config["DELIVERY_LOG_RETENTION_DAYS"]
    deleted = delivery_log.prune(days)
    click.echo(f"Deleted {deleted} {'delivery' if deleted == 1 else 'deliveries'} "
               f"older than {days} {'day' if days == 1 else 'days'}.")
