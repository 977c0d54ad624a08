"""``flask psp``: the Pix provider (API Pix), and ``simulator``, a local one to test with."""

import sqlite3

import click
from flask import current_app

from payments.cli.output import Group, fail

DEFAULT_PORT = 5001


@click.group(cls=Group)
def psp() -> None:
    """Work with the Pix provider (API Pix), or run a local simulator of one."""


@psp.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--db",
    default=None,
    metavar="PATH",
    help="Keep the state in this SQLite file (default: in memory, lost on exit).",
)
@click.option(
    "--token-seconds",
    default=3600,
    show_default=True,
    type=click.IntRange(1),
    help="Lifetime of the OAuth2 access tokens.",
)
@click.option(
    "--drop-callbacks",
    is_flag=True,
    help="Send no webhook callbacks (to watch reconciliation catch the Pix).",
)
@click.option(
    "--webhook-url",
    default=None,
    metavar="URL",
    help="Where callbacks go for a key that registered no webhook "
    "(POST URL/pix), e.g. http://127.0.0.1:5000/payments/pix/confirmation.",
)
@click.option("--client-id", default=None, help="OAuth2 client id (default: the demo one).")
@click.option("--client-secret", default=None, help="OAuth2 client secret (default: the demo one).")
@click.option(
    "--refund-seconds",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0),
    help="How long a refund stays EM_PROCESSAMENTO.",
)
@click.option(
    "--callback-attempts",
    default=5,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Tries per callback (waiting 0.5 s, then twice as long each time).",
)
def simulator(
    host: str,
    port: int,
    db: str | None,
    token_seconds: int,
    drop_callbacks: bool,
    webhook_url: str | None,
    client_id: str | None,
    client_secret: str | None,
    refund_seconds: float,
    callback_attempts: int,
) -> None:
    """Run a local Pix provider speaking the API Pix subset the app uses.

    Point the app at it with PIX_PSP_URL=http://HOST:PORT/v2 and
    PIX_PSP_TOKEN_URL=http://HOST:PORT/oauth/token.
    """
    from werkzeug.serving import run_simple

    from payments.simulator import DEFAULTS, create_simulator

    settings = {
        "SIM_DB": db,
        "SIM_TOKEN_SECONDS": token_seconds,
        "SIM_DROP_CALLBACKS": drop_callbacks,
        "SIM_WEBHOOK_URL": webhook_url,
        "SIM_REFUND_SECONDS": refund_seconds,
        "SIM_CALLBACK_ATTEMPTS": callback_attempts,
        "SIM_CLIENT_ID": client_id or DEFAULTS["SIM_CLIENT_ID"],
        "SIM_CLIENT_SECRET": client_secret or DEFAULTS["SIM_CLIENT_SECRET"],
        "SIM_MERCHANT_NAME": current_app.config["PIX_MERCHANT_NAME"],
        "SIM_MERCHANT_CITY": current_app.config["PIX_MERCHANT_CITY"],
    }
    try:
        app = create_simulator(settings)
    except sqlite3.Error as exc:
        fail(f"error: cannot open the simulator's database {db}: {exc}")
    base = f"http://{host}:{port}"
    click.echo(
        f"API Pix simulator: PIX_PSP_URL={base}/v2 PIX_PSP_TOKEN_URL={base}/oauth/token"
        f" ({'callbacks dropped' if drop_callbacks else 'callbacks on'}, "
        f"{'SQLite ' + db if db else 'in memory'})"
    )
    try:
        run_simple(host, port, app, threaded=True)
    except OSError as exc:
        fail(f"error: cannot listen on {host}:{port}: {exc}")
