"""Fuzzing: schemathesis drives a live server from its own /openapi.json.

Every operation of the description is fuzzed (positive and negative data, bounded examples).
What must hold for any input: no 5xx, and every answer is one the description declares (status
code, content type, headers, body schema).
"""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payments.apidoc.openapi import build_spec
from payments.pix.money import reais_to_cents
from payments.settings import DEFAULTS
from tests.live import LiveServer

# Not run: negative_data_rejection and positive_data_acceptance. The spec cannot say "at most two
# decimals" for a JSON number exactly (multipleOf 0.01 is inexact on binary floats), so generated
# numbers such as 1.005 are schema-valid yet rightly refused with 400, and some schema-invalid
# bodies are still valid amounts. Those rules are tested exactly in test_money/test_properties.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

#: Longest time one request may take; long polling is clamped below it (see ``bounded``).
REQUEST_TIMEOUT = 30


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    """Return a live server without a rate limit (fuzzing creates many charges at once)."""
    workdir = tmp_path_factory.mktemp("fuzz")
    with LiveServer(workdir, env={"RATE_LIMIT_CREATE": ""}) as server:
        yield server


# The description the server serves with its default settings. (schemathesis's lazy
# ``from_fixture`` loader does not work under pytest 9, so the operations are collected from the
# same builder and test_fuzz_runs_on_what_the_server_serves proves it is what the server serves.)
DESCRIPTION = build_spec(reais_to_cents(DEFAULTS["PIX_MAX_VALUE"]))
schema = schemathesis.openapi.from_dict(DESCRIPTION)


def test_fuzz_runs_on_what_the_server_serves(fuzzed_server):
    served = requests.get(f"{fuzzed_server.url}/openapi.json", timeout=REQUEST_TIMEOUT)
    assert served.status_code == 200
    assert served.json() == DESCRIPTION


def bounded(case) -> None:
    """Clamp long polling to one second so a generated ``wait=30`` cannot stall the run.

    Values outside 0..30 and non-integers are left alone: those must still get a 400.
    """
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int) and not isinstance(wait, bool) and 1 < wait <= 30:
        case.query["wait"] = 1


# The SSE route (/events) is fuzzed like the others: generated ids are never those of a real
# charge, so it answers 404 at once; a real stream would be cut by REQUEST_TIMEOUT and fail.
# The stream itself is covered by the realtime tests.
@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_survives_any_input_and_keeps_its_description(case, fuzzed_server):
    bounded(case)
    with requests.Session() as session:
        case.call_and_validate(base_url=fuzzed_server.url, session=session, checks=CHECKS,
                               timeout=REQUEST_TIMEOUT)
    assert "Traceback" not in fuzzed_server.log()
