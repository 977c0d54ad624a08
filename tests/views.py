"""The two views of a payment, as the tests expect them."""

#: What the merchant's view has and the public one never does.
MERCHANT_ONLY = ("bank_payment_id", "qr_code", "metadata")


def public(payment: dict) -> dict:
    """Return the public view of a merchant's payment object (what a customer's browser gets)."""
    view = {key: value for key, value in payment.items() if key not in MERCHANT_ONLY}
    view["qr_code_url"] = f"/payments/pix/{payment['id']}/qr.png"
    return view
