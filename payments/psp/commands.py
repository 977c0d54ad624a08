"""``flask psp reconcile`` and ``flask psp register-webhook <public url>``.

Declared on their own (``COMMANDS``); ``payments.cli`` adds them to the ``psp`` group, beside
``simulator``.
"""

import click
from flask import current_app
from flask.cli import with_appcontext

from payments.cli.output import fail
from payments.psp.client import ProviderError, client, enabled

#: Where the provider's callbacks come in: the provider appends ``/pix`` to what is registered.
CALLBACK_PATH = "/payments/pix/confirmation"


def _need_provider() -> None:
    if not enabled():
        fail("error: PIX_PSP_URL is not set: there is no Pix provider to talk to")


@click.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """List the Pix the provider received and apply those no callback brought."""
    from payments.psp.reconcile import reconcile

    _need_provider()
    try:
        summary = reconcile()
    except ProviderError as exc:
        fail(f"error: {exc.message}")
    if summary is None:
        click.echo("Another process is reconciling now; nothing done here")
        return
    click.echo(f"{summary.listed} Pix listed, {summary.applied} payments changed, "
               f"{summary.refunds} refunds settled or failed")


@click.command("register-webhook")
@with_appcontext
@click.argument("public_url")
def register_webhook_command(public_url: str) -> None:
    """Ask the provider to post its callbacks to PUBLIC_URL (PUT /webhook/{chave}).

    PUBLIC_URL is the app's public base (https://shop.example) or the full callback URL
    (https://shop.example/payments/pix/confirmation); the provider appends /pix.
    """
    _need_provider()
    url = public_url.strip().rstrip("/")
    if not url.startswith("https://") and current_app.config["PAYMENTS_ENV"] == "production":
        fail("error: the webhook URL must be https in production")
    if not url.startswith(("https://", "http://")):
        fail(f"error: {public_url!r} is not an absolute http(s) URL")
    if not url.endswith(CALLBACK_PATH):
        url += CALLBACK_PATH
    key = current_app.config["PIX_KEY"]
    try:
        client().put_webhook(key, url)
    except ProviderError as exc:
        fail(f"error: {exc.message}")
    click.echo(f"Webhook of key {key} registered: the provider posts to {url}/pix")


COMMANDS = (reconcile_command, register_webhook_command)

