"""The CLI's background warm-up: what it pays ahead of the flow, when, and that it never breaks a build."""

import logging
import os
import time

import pytest

import flows.build as build_mod
import flows.runner as runner
from flows.validation import suites_fingerprint
from transforms.claims import rules


@pytest.fixture
def fresh_prewarm(monkeypatch):
    monkeypatch.setattr(runner, "_prewarm", None)
    yield
    runner._build_imported.set()  # a thread still waiting must not outlive the test
    runner.wait_for_prewarm()


def test_warm_up_compiles_the_rules_and_builds_the_gx_context(monkeypatch):
    monkeypatch.setattr(build_mod, "_validators", {})
    rules.cache_clear()
    build_mod.warm_up()
    assert rules.cache_info().currsize == 1
    assert list(build_mod._validators) == [suites_fingerprint()]


def test_a_failing_warm_up_is_logged_not_raised(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("lexicon trouble")

    monkeypatch.setattr(build_mod, "transform_batch", broken)
    with caplog.at_level(logging.DEBUG, logger="claimscope"):
        build_mod.warm_up()  # the build runs the same code and reports the error itself
    assert any("warm-up failed" in r.message and r.exc_info for r in caplog.records)


@pytest.mark.usefixtures("fresh_prewarm")
def test_the_process_warms_up_only_once_flows_build_is_imported(monkeypatch):
    import great_expectations  # noqa: F401  the thread's imports, done here first: so without the wait the
    import sklearn.decomposition  # noqa: F401  warm-up would have run well within the sleep below

    calls = []
    monkeypatch.setattr(build_mod, "warm_up", lambda: calls.append(time.monotonic()))
    runner._prewarm_imports(warm_process=True)
    time.sleep(0.3)
    assert calls == []
    released = time.monotonic()
    runner._build_imported.set()
    runner.wait_for_prewarm()
    assert len(calls) == 1 and calls[0] >= released


@pytest.mark.usefixtures("fresh_prewarm")
def test_workers_mode_only_imports(monkeypatch):
    calls = []
    monkeypatch.setattr(build_mod, "warm_up", lambda: calls.append(1))
    runner._prewarm_imports(warm_process=False)  # batches run on the workers: nothing to warm here
    runner._build_imported.set()
    runner.wait_for_prewarm()
    assert calls == []


@pytest.mark.parametrize(("workers", "share"), [(2, "256MB"), (3, "192MB"), (8, "128MB")])
def test_a_local_cluster_shares_the_duckdb_memory_among_its_processes(monkeypatch, workers, share):
    from flows.storage import DUCKDB_MEMORY_ENV

    monkeypatch.delenv(DUCKDB_MEMORY_ENV, raising=False)
    runner._share_duckdb_memory(workers)
    assert os.environ[DUCKDB_MEMORY_ENV] == share


def test_a_duckdb_limit_the_user_set_is_kept(monkeypatch):
    from flows.storage import DUCKDB_MEMORY_ENV

    monkeypatch.setenv(DUCKDB_MEMORY_ENV, "1GB")
    runner._share_duckdb_memory(2)
    assert os.environ[DUCKDB_MEMORY_ENV] == "1GB"
