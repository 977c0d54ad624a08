"""``flask bank pay``: play the bank, posting a (signed) notice to a running server."""

import json
import urllib.error
import urllib.request

import click
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from payments.bank.signature import HEADER, sign
from payments.charges import service as services
from payments.cli.output import Group, fail
from payments.pix.money import cents_to_decimal

DEFAULT_URL = "http://127.0.0.1:5000"
TIMEOUT = 30


@click.group(cls=Group)
def bank() -> None:
    """Play the bank: post signed notices to a running server."""


def _notice_for(payment_id: str, url: str) -> tuple[str, str]:
    """Return (bank_payment_id, value) of a charge: from this database, else from ``url``."""
    try:
        payment = services.find_payment(payment_id)
    except SQLAlchemyError:  # no such database here, or not migrated: ask the server
        payment = None
    if payment is not None:
        return payment.bank_payment_id, str(cents_to_decimal(payment.amount_cents))
    # The merchant's view names the bank's id: ask with the merchant's key (any, in a sandbox
    # without keys).
    keys = current_app.config["MERCHANT_API_KEYS"]
    request = urllib.request.Request(f"{url}/payments/pix/{payment_id}/status", headers={
        "Authorization": f"Bearer {keys[0] if keys else 'sandbox'}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        fail(f"Payment {payment_id} not found here nor at {url} ({exc.code})")
    except (OSError, ValueError) as exc:
        fail(f"Payment {payment_id} not found here and {url} did not answer: {exc}")
    return data["bank_payment_id"], str(data["value"])


# Public ids are URL-safe base64 and may begin with "-": take them as the argument,
# not as an unknown option.
@bank.command("pay", context_settings={"ignore_unknown_options": True})
@click.argument("payment_id")
@click.option("--refuse", "outcome", flag_value="refused", help="Refuse the charge instead.")
@click.option("--refund", "outcome", flag_value="refunded", help="Refund the paid charge.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The server's base URL.")
def pay(payment_id: str, outcome: str | None, url: str) -> None:
    """Post the bank's notice for PAYMENT_ID (its public id) to a running server."""
    url = url.rstrip("/")
    bank_payment_id, value = _notice_for(payment_id, url)
    notice = {"bank_payment_id": bank_payment_id, "value": value,
              "status": outcome or "approved"}
    body = json.dumps(notice).encode()
    headers = {"Content-Type": "application/json"}
    secret = current_app.config.get("PIX_WEBHOOK_SECRET")
    if secret:
        headers[HEADER] = sign(secret, body)
    request = urllib.request.Request(f"{url}/payments/pix/confirmation", data=body,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:  # an HTTPError holds the open response
            status, answer = exc.code, exc.read()
    except OSError as exc:
        fail(f"Could not reach {url}: {exc}")
    click.echo(f"{status} {answer.decode(errors='replace')}")
    if not 200 <= status < 300:
        raise SystemExit(1)
