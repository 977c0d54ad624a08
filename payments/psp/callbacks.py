"""A callback's items are hints: each is applied only as the provider itself records it.

For every item of ``POST /payments/pix/confirmation/pix``, ``GET /pix/{endToEndId}`` at the
provider must return the same txid and value; then the provider's record (with its
``devolucoes``) is what is applied, through the same rules as every API Pix notice
(``payments.bank.receipts``). An item the provider does not know, or knows otherwise, changes
nothing, and its result (in the answer and so in the delivery log) says so.
"""

from pydantic import ValidationError

from payments.bank import receipts
from payments.bank.notices import PixItem
from payments.bank.receipts import ItemResult
from payments.pix.money import cents_to_decimal
from payments.psp import refunds
from payments.psp.client import ProviderError, ProviderNotFound, client

FORGED = "Refused: "
UNVERIFIED = "Not verified: "


def provider_item(data: dict) -> PixItem | None:
    """Return a provider's Pix record as a notice item, or None if it is not one we can apply."""
    try:
        return PixItem.model_validate(data)
    except ValidationError:
        return None


def apply_verified(item: PixItem) -> ItemResult:
    """Apply ``item`` if, and as, the provider records it; never raise for a refused item."""
    try:
        data = client().get_pix(item.end_to_end_id)
    except ProviderNotFound:
        return ItemResult(item, 404, FORGED + "the Pix provider knows no Pix with this "
                          "endToEndId (forged or unknown); nothing was applied", None)
    except ProviderError as exc:
        return ItemResult(item, exc.status_code, UNVERIFIED + f"{exc.message}; nothing was "
                          "applied (the reconciliation will apply it once the provider answers)",
                          None)
    known = provider_item(data)
    if known is None or known.end_to_end_id != item.end_to_end_id:
        return ItemResult(item, 502, UNVERIFIED + "the Pix provider's record of this endToEndId "
                          "is not a Pix of a charge; nothing was applied", None)
    if known.txid != item.txid or known.cents != item.cents:
        return ItemResult(item, 409, FORGED + f"the Pix provider records this endToEndId with "
                          f"txid {known.txid} and valor {cents_to_decimal(known.cents)}, not "
                          f"txid {item.txid} and valor {cents_to_decimal(item.cents)} (forged); "
                          "nothing was applied", None)
    return apply_known(known, data)


def apply_known(known: PixItem, data: dict) -> ItemResult:
    """Apply a Pix as the provider records it, and follow the refunds it lists."""
    result = receipts.apply_pix_item(known)
    refunds.follow(data.get("devolucoes"))
    return result
