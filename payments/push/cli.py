"""``flask push keygen``: a new VAPID private key, for ``VAPID_PRIVATE_KEY``."""

import click
from flask.cli import AppGroup

from payments.push.keys import new_private_key_pem

push = AppGroup("push", help="Web Push: VAPID keys.")


@push.command("keygen")
def keygen() -> None:
    """Print a new P-256 private key (PEM) to set as VAPID_PRIVATE_KEY; keep it secret."""
    click.echo(new_private_key_pem(), nl=False)
