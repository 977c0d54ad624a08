"""``flask`` commands: ``bank`` (play the bank), ``deliveries`` (its webhook log), ``events``."""

from flask import Flask


def register(app: Flask) -> None:
    """Add the project's command groups to ``app``'s ``flask`` command."""
    from payments.cli.bank import bank
    from payments.cli.deliveries import deliveries
    from payments.cli.events import events
    from payments.push.cli import push

    app.cli.add_command(bank)
    app.cli.add_command(deliveries)
    app.cli.add_command(events)
    app.cli.add_command(push)
