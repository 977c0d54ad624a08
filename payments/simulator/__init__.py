"""A local Pix provider speaking the subset of the Banco Central API Pix the app uses.

``flask --app payments psp simulator`` runs it (``payments/cli/psp.py``). It is its own small
Flask app, apart from the payments app: OAuth2 client credentials at ``/oauth/token``; under
``/v2`` the charges (``cob``), received Pix with pagination, refunds and webhooks; the
location payload as a signed JWS at ``/qr/v2/<id>`` with its key at ``/jwks``; and, for this
machine only, ``POST /sim/pay/<txid>`` to pay a charge as a payer's bank would, which calls
the registered webhook back. State lives in memory, or in a SQLite file (``--db``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from payments.simulator.auth import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from payments.simulator.callbacks import Notifier
from payments.simulator.signing import Signer
from payments.simulator.store import Store

DEFAULTS = {
    "SIM_CLIENT_ID": DEMO_CLIENT_ID,
    "SIM_CLIENT_SECRET": DEMO_CLIENT_SECRET,
    "SIM_TOKEN_SECONDS": 3600,
    "SIM_DB": None,  # a SQLite file; None: in memory
    "SIM_DROP_CALLBACKS": False,
    "SIM_WEBHOOK_URL": None,  # where callbacks go for a key without a registered webhook
    "SIM_CALLBACK_ATTEMPTS": 5,
    "SIM_CALLBACK_DELAY": 0.5,  # seconds after the first failed try, doubled after each next
    "SIM_REFUND_SECONDS": 0.5,  # a refund stays EM_PROCESSAMENTO this long
    "SIM_MERCHANT_NAME": "Loja Exemplo",
    "SIM_MERCHANT_CITY": "Sao Paulo",
    "SIM_LOCATION_HOST": None,  # host[:port] in the location URL; None: the request's host
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # larger bodies: 413
}


@dataclass
class Simulator:
    """What the routes share: settings, state, the signing key and the callback sender."""

    config: dict
    store: Store
    signer: Signer
    notifier: Notifier


def create_simulator(settings: dict | None = None) -> Flask:
    """Return the simulator's Flask app, with ``settings`` over ``DEFAULTS``."""
    from payments.simulator import problems, routes
    from payments.simulator.auth import bp as oauth

    app = Flask(__name__)
    app.json.sort_keys = False  # the standard's field order
    app.config.from_mapping(DEFAULTS)
    app.config.update(settings or {})
    store = Store(app.config["SIM_DB"])
    notifier = Notifier(
        attempts=app.config["SIM_CALLBACK_ATTEMPTS"],
        delay=app.config["SIM_CALLBACK_DELAY"],
        drop=app.config["SIM_DROP_CALLBACKS"],
    )
    app.extensions["simulator"] = Simulator(app.config, store, Signer(store), notifier)
    for blueprint in (oauth, routes.api, routes.public, routes.sim_bp):
        app.register_blueprint(blueprint)
    problems.register(app)
    return app
