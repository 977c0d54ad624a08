"""``flask bank pay``: play the bank, posting a (signed) notice to a running server.

With ``PIX_PSP_URL`` set the charge lives at the Pix provider, so paying it is the provider's
business: the command asks the provider simulator (``flask psp simulator``) to pay it, and the
simulator calls the app back as a real provider would.
"""

import json
import urllib.error
import urllib.parse
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


def _notice_for(payment_id: str, url: str) -> dict:
    """Return the charge's ``bank_payment_id``, ``value`` and ``txid``: from this database,
    else from the server at ``url``."""
    try:
        payment = services.find_payment(payment_id)
    except SQLAlchemyError:  # no such database here, or not migrated: ask the server
        payment = None
    if payment is not None:
        return {"bank_payment_id": payment.bank_payment_id, "txid": payment.txid,
                "value": str(cents_to_decimal(payment.amount_cents))}
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
    return {"bank_payment_id": data["bank_payment_id"], "txid": data["txid"],
            "value": str(data["value"])}


def _post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """Post ``body`` and return (status, answer), 4xx/5xx included.

    :raise SystemExit: ``url`` cannot be reached.
    """
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:  # an HTTPError holds the open response
            return exc.code, exc.read()
    except OSError as exc:
        fail(f"Could not reach {url}: {exc}")


def _report(status: int, answer: bytes) -> None:
    """Print the answer; exit non-zero unless it is a 2xx."""
    click.echo(f"{status} {answer.decode(errors='replace')}")
    if not 200 <= status < 300:
        raise SystemExit(1)


def simulator_pay_url(psp_url: str, txid: str) -> str:
    """Return the simulator's ``/sim/pay/<txid>`` at the origin of ``psp_url``."""
    parts = urllib.parse.urlsplit(psp_url)
    return f"{parts.scheme}://{parts.netloc}/sim/pay/{urllib.parse.quote(txid)}"


def _pay_at_provider(psp_url: str, facts: dict, value: str | None) -> None:
    """Have the provider simulator pay the charge, which then calls the app back."""
    body = json.dumps({"valor": value} if value else {}).encode()
    url = simulator_pay_url(psp_url, facts["txid"])
    _report(*_post(url, body, {"Content-Type": "application/json"}))


# Public ids are URL-safe base64 and may begin with "-": take them as the argument,
# not as an unknown option.
@bank.command("pay", context_settings={"ignore_unknown_options": True})
@click.argument("payment_id")
@click.option("--refuse", "outcome", flag_value="refused", help="Refuse the charge instead.")
@click.option("--refund", "outcome", flag_value="refunded", help="Refund the paid charge.")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="The server's base URL.")
@click.option("--value", default=None, metavar="REAIS",
              help="With PIX_PSP_URL: pay this amount (e.g. 1.00) instead of the charge's.")
def pay(payment_id: str, outcome: str | None, url: str, value: str | None) -> None:
    """Pay PAYMENT_ID (its public id): post the bank's notice to a running server, or, with
    PIX_PSP_URL set, have the provider simulator pay it."""
    url = url.rstrip("/")
    psp_url = current_app.config.get("PIX_PSP_URL")
    if psp_url and outcome:
        flag = {"refused": "--refuse", "refunded": "--refund"}[outcome]
        fail(f"{flag} is for charges without a provider; with PIX_PSP_URL, refunds go "
             "through POST /payments/pix/<id>/refund")
    if value and not psp_url:
        fail("--value needs PIX_PSP_URL (the provider simulator pays what it is told)")
    facts = _notice_for(payment_id, url)
    if psp_url:
        _pay_at_provider(psp_url, facts, value)
        return
    notice = {"bank_payment_id": facts["bank_payment_id"], "value": facts["value"],
              "status": outcome or "approved"}
    body = json.dumps(notice).encode()
    headers = {"Content-Type": "application/json"}
    secret = current_app.config.get("PIX_WEBHOOK_SECRET")
    if secret:
        headers[HEADER] = sign(secret, body)
    _report(*_post(f"{url}/payments/pix/confirmation", body, headers))
