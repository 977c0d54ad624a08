"""Web Push: a customer who left the page (for the bank app) learns the outcome.

``keys`` holds the VAPID key pair, ``models`` and ``subscriptions`` the
browsers' push subscriptions per charge, ``messages`` what a push says,
``sender`` the one call to a push service, ``destination`` the outbox's
"push" destination (sends go out from the events' background delivery, never
from the request that made the change), ``routes`` the HTTP side.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the push destination with the outbox (push is always on)."""
    from payments.push import destination

    destination.register(app)
