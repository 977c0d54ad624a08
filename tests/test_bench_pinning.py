"""The bench keeps load generation off the server's CPU (no timing here: only where they run)."""

import os

import pytest

from bench import run

pytestmark = pytest.mark.skipif(not run.can_pin(), reason="needs CPUs 0 and 1 to pin to")


def test_a_server_started_by_a_pinned_load_generator_runs_on_its_own_cpu(tmp_path):
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {run.CLIENT_CPU})  # as bench.run, bench.profile, bench.memory do
    try:
        with run.server(tmp_path, "eventlet") as live:
            server_cpus = os.sched_getaffinity(live.process.pid)
            generator_cpus = os.sched_getaffinity(0)
    finally:
        os.sched_setaffinity(0, mine)

    assert server_cpus == {run.SERVER_CPU}
    assert generator_cpus == {run.CLIENT_CPU}
