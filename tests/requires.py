"""Skip a test whose outside service is missing, except under ``CI=true``, where it fails."""

import os

import pytest


def service(available: bool, reason: str) -> None:
    """Skip (fail under ``CI=true``) with ``reason`` unless ``available``."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)
