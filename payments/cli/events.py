"""``flask events``: the outbox's events and their deliveries, listed and sent again."""

import click

from payments.charges.models import isoformat
from payments.cli.output import Group, fail
from payments.events import admin


@click.group(cls=Group)
def events() -> None:
    """Inspect the events sent to the shop's systems, and send one again."""


@events.command("list")
@click.option("--status", type=click.Choice(admin.STATUSES),
              help="Only events with a delivery in this status.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="How many of the latest events to show.")
def list_events(status: str | None, limit: int) -> None:
    """Show the latest events, newest first, each with its deliveries."""
    found = admin.list_events(status, limit)
    if not found:
        click.echo("No events." if status is None else f"No events with a {status} delivery.")
        return
    for listed in found:
        event = listed.event
        click.echo(f"{event.id}  {isoformat(event.created_at)}  {event.type}  {event.subject}")
        if not listed.deliveries:
            click.echo("    (no destination)")
        for delivery in listed.deliveries:
            click.echo("    " + describe(delivery))


def shown(target: str) -> str:
    """Return ``target`` with the password of a URL's user part (if any) hidden."""
    scheme, sep, rest = target.partition("://")
    userinfo, at, host = rest.partition("@")
    if sep and at and ":" in userinfo and "/" not in userinfo:
        return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
    return target


def describe(delivery) -> str:
    """Return one line about a delivery: where, status, attempts, last answer, what next."""
    last = delivery.last_status if delivery.last_status is not None else "-"
    line = (f"{delivery.kind} {shown(delivery.target)}  {delivery.status}  "
            f"attempts={delivery.attempts}  last_status={last}")
    if delivery.status == "pending":
        line += f"  next={isoformat(delivery.next_attempt_at)}"
    if delivery.status == "delivered":
        line += f"  delivered={isoformat(delivery.delivered_at)}"
    if delivery.last_error:
        line += f"  error={delivery.last_error}"
    return line


@events.command("resend")
@click.argument("event_id")
def resend_event(event_id: str) -> None:
    """Send one event again now, to every target of its destinations, a fresh schedule each."""
    from flask import current_app

    deliveries = admin.resend(current_app._get_current_object(), event_id)
    if deliveries is None:
        fail(f"No event {event_id}")
    if not deliveries:
        fail(f"Event {event_id} has no destination to go to (none is configured)")
    for delivery in deliveries:
        click.echo(describe(delivery))
    if any(delivery.status != "delivered" for delivery in deliveries):
        raise SystemExit(1)
