"""``flask`` commands: ``bank``, ``deliveries`` (the webhook log), ``events`` and ``psp``."""

from flask import Flask


def register(app: Flask) -> None:
    """Add the project's command groups to ``app``'s ``flask`` command."""
    from payments.cli.bank import bank
    from payments.cli.deliveries import deliveries
    from payments.cli.events import events
    from payments.cli.psp import psp
    from payments.psp.commands import COMMANDS as PSP_COMMANDS
    from payments.push.cli import push

    for command in PSP_COMMANDS:  # reconcile, register-webhook: beside the simulator
        psp.add_command(command)

    app.cli.add_command(bank)
    app.cli.add_command(deliveries)
    app.cli.add_command(events)
    app.cli.add_command(psp)
    app.cli.add_command(push)
