"""Skip a test whose outside dependency is missing, except under ``CI=true``, where it fails."""

import os

import pytest


def require(available: bool, reason: str) -> None:
    """Go on if ``available``; else skip with ``reason``, or fail under ``CI=true``."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)
