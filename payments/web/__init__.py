"""The HTTP edge: security headers and rate limits, cookie sessions, JSON request bodies."""
