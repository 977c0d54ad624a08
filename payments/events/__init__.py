"""Events for the shop's other systems: the outbox, its relay and its destinations.

``outbox.emit`` writes each payment change as a CloudEvents document in the
change's own transaction; ``relay`` sends it afterwards to every registered
destination (``outbox.register``): the merchant's webhooks here, others beside.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Load the outbox's models and register the destinations that are configured."""
    from payments.events import models, webhooks

    del models  # imported for its tables
    app.extensions.setdefault("outbox", {})
    webhooks.init_app(app)
