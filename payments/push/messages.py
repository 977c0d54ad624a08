"""What a push says, in Portuguese: one message per status change, or the merchant's own.

Only the public view reaches a browser: the payload names the status, the
amount and the page, nothing the bank or the merchant keeps to themselves.
"""

from decimal import Decimal

from flask import current_app

from payments.pix.money import format_brl, parse_amount

#: Seconds a status push is still worth showing: a phone off for a night learns it the
#: next morning; after a day the customer has long looked at the page.
OUTCOME_TTL = 24 * 3600
#: Seconds a merchant's message waits for a browser that is offline.
MESSAGE_TTL = 3600

#: Title and body of each status change (``{amount}``, ``{merchant}`` filled in).
TEXTS = {
    "paid": ("Pagamento confirmado", "Recebemos o seu Pix de {amount} para {merchant}."),
    "refused": ("Pagamento recusado", "O Pix de {amount} para {merchant} não foi aprovado."),
    "refunded": ("Pagamento estornado", "O Pix de {amount} para {merchant} foi devolvido."),
    "expired": ("Cobrança expirada", "O prazo para pagar {amount} a {merchant} terminou."),
    "canceled": ("Cobrança cancelada", "A cobrança de {amount} de {merchant} foi cancelada."),
}
#: Longest merchant title and body: what notifications show without cutting.
MAX_TITLE = 80
MAX_BODY = 300


def status_payload(payment: dict) -> dict | None:
    """Return the push for a payment object that changed, or None for one not worth a push."""
    texts = TEXTS.get(payment.get("status"))
    if texts is None:
        return None
    cents = parse_amount(Decimal(str(payment["value"])), max_cents=10**15)
    filled = {"amount": format_brl(cents), "merchant": current_app.config["PIX_MERCHANT_NAME"]}
    return {
        "title": texts[0],
        "body": texts[1].format(**filled),
        "url": payment["page_url"],
        "tag": f"payment-{payment['id']}",
        "status": payment["status"],
    }


def merchant_payload(payment_id: str, page_url: str, status: str, message: dict) -> dict:
    """Return the push of a merchant's message about a charge."""
    return {
        "title": message["title"],
        "body": message["body"],
        "url": message.get("url") or page_url,
        "tag": f"payment-{payment_id}",
        "status": status,
    }
