"""flows.dask_worker: the caches a Dask worker preloads keep what Prefect would have built for each task."""

from __future__ import annotations

import ssl

import certifi
import pytest

from flows.dask_worker import _CachedSSL, install_submit_cache, uninstall_submit_cache

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def submit_cache():
    install_submit_cache()
    try:
        yield
    finally:
        uninstall_submit_cache()


def test_submit_cache_serialises_each_settings_context_once_and_gives_what_prefect_gives(submit_cache):
    import prefect.settings as ps
    from prefect.context import SettingsContext, serialize_context

    original = SettingsContext.serialize._claimscope_original
    got = []
    for retries in (3, 5):
        with ps.temporary_settings(updates={ps.PREFECT_TASK_DEFAULT_RETRIES: retries}):
            first = serialize_context()["settings_context"]
            assert serialize_context()["settings_context"] is first
            assert first == original(SettingsContext.get())
            assert first["settings"]["tasks"]["default_retries"] == retries
            got.append(first)
    assert got[0] is not got[1]
    ctx = SettingsContext.get()
    assert ctx.serialize(include_secrets=False) == original(ctx, include_secrets=False)


def test_submit_cache_installs_once_and_uninstalls():
    from prefect.context import SettingsContext

    plain = SettingsContext.serialize
    install_submit_cache()
    patched = SettingsContext.serialize
    install_submit_cache()
    try:
        assert SettingsContext.serialize is patched and patched is not plain
    finally:
        uninstall_submit_cache()
    assert SettingsContext.serialize is plain


def test_verified_context_is_built_once_per_cafile():
    shim = _CachedSSL()
    a = shim.create_default_context(cafile=certifi.where())
    assert shim.create_default_context(cafile=certifi.where()) is a
    assert a.verify_mode == ssl.CERT_REQUIRED and a.check_hostname
    assert a.cert_store_stats()["x509_ca"] > 0
    assert shim.SSLContext is ssl.SSLContext and shim.CERT_NONE is ssl.CERT_NONE


def test_insecure_branch_still_gets_a_context_of_its_own():
    # Prefect turns verification off on the context it gets: a shared one would turn it off for every client.
    shim = _CachedSSL()
    a, b = shim.create_default_context(), shim.create_default_context()
    assert a is not b
    a.check_hostname = False
    assert b.check_hostname


def test_worker_tasks_see_the_settings_of_their_own_submission(submit_cache):
    """Tasks submitted under different settings get each their own, though both processes cache them."""
    import prefect.settings as ps
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect_dask import DaskTaskRunner

    @task(cache_policy=NO_CACHE)
    def seen(_: int) -> tuple[int, bool, bool]:
        import prefect.client.orchestration as orchestration
        import prefect.task_engine as task_engine
        from prefect.settings import get_current_settings

        from flows.dask_worker import _CachedSSL as Shim

        return (
            get_current_settings().tasks.default_retries,
            getattr(task_engine.hydrated_context, "_claimscope_cached", False),
            isinstance(orchestration.ssl, Shim),
        )

    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 1,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",
            "config": {"distributed.worker.preload": ["flows.dask_worker"]},
        }
    )

    @flow(task_runner=runner)
    def probe() -> list[tuple[int, bool, bool]]:
        futures = []
        for retries in (3, 3, 5, 5, 3):
            with ps.temporary_settings(updates={ps.PREFECT_TASK_DEFAULT_RETRIES: retries}):
                futures.append(seen.submit(len(futures)))
        return [f.result() for f in futures]

    got = probe()
    assert [r[0] for r in got] == [3, 3, 5, 5, 3]
    assert all(r[1] and r[2] for r in got), got
