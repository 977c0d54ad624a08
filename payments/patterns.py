"""The shapes and limits of what comes in, each declared once: ids, txids, body sizes."""

import re

#: A UUID as the bank names a charge (``bank_payment_id``), any case.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
#: The name of a charge's QR code image: ``qr_code_payment_<bank_payment_id>``.
QR_CODE_NAME = re.compile(rf"qr_code_payment_({UUID.pattern})")
#: A charge's public id: URL-safe base64 (``secrets.token_urlsafe(16)`` gives 22).
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: A txid as API Pix carries it (35 at most; ours have 25) and an endToEndId or rtrId
#: (the standard says 32, some of its own examples have 34: up to 35 is taken).
TXID = re.compile(r"[A-Za-z0-9]{1,35}", re.ASCII)
END_TO_END_ID = re.compile(r"[A-Za-z0-9]{1,35}", re.ASCII)

#: The merchant's order reference on a charge.
EXTERNAL_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)
#: An ``Idempotency-Key``: 1 to 255 printable ASCII characters.
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}", re.ASCII)

#: Largest body of a merchant request (a charge): beyond it the answer is 413.
MAX_BODY = 64 * 1024
#: Largest body of a bank notice (a batch of API Pix items); beyond it the answer is 413.
MAX_WEBHOOK_BODY = 1024 * 1024
#: Most items one API Pix delivery may carry.
MAX_PIX_ITEMS = 100
#: Webhook bodies are kept in the delivery log up to this many bytes.
DELIVERY_BODY_LIMIT = 64 * 1024
