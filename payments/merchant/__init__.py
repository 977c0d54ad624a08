"""The merchant's side: API keys, idempotency, and the routes the shop's system calls."""
