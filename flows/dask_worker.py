"""Dask worker preload (`distributed.worker.preload`): trims Prefect's fixed cost per task on a worker.

A Prefect task run on a Dask worker rebuilds the flow's settings from their serialized form (pydantic-settings
re-reads the environment, prefect.toml and .env for every nested model) and opens two API clients, each with a
fresh certifi SSL context, before its body starts. `python -m benchmarks.bench_task_cost` (100 no-op tasks on
two workers, two rounds) measured 98-111 ms of worker CPU per task without this preload and 10-12 ms with it; a
100k-article build runs about 240 tasks. Both caches keep what Prefect would build: the same settings values and
the same verified context, built once per worker process instead of once per task.

`claimscope build --workers N` preloads this on its LocalCluster; on your own cluster start the workers with
`dask worker --preload flows.dask_worker ...` (optional: without it tasks only cost more).
"""

from __future__ import annotations

import functools
import json
import ssl
import threading
from contextlib import contextmanager
from typing import Any

_settings_lock = threading.Lock()
_settings_cache: dict[str, Any] = {}


class _CachedSSL:
    """The `ssl` module as Prefect's client module sees it, with `create_default_context` memoized."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    @staticmethod
    @functools.lru_cache(maxsize=8)
    def _context(cafile: str | None) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=cafile)

    @classmethod
    def create_default_context(cls, *args: Any, **kwargs: Any) -> ssl.SSLContext:
        # Only Prefect's verified branch (`cafile=...`) is shared: its context is never modified after creation.
        # The insecure branch mutates the context it gets, so it still gets a new one.
        if args or set(kwargs) - {"cafile"}:
            return ssl.create_default_context(*args, **kwargs)
        if not kwargs:
            return ssl.create_default_context()
        return cls._context(kwargs["cafile"])


def _settings_context(serialized: dict[str, Any]):
    from prefect.context import SettingsContext

    key = json.dumps(serialized, sort_keys=True, default=str)
    with _settings_lock:
        ctx = _settings_cache.get(key)
        if ctx is None:
            _settings_cache.clear()  # one flow's settings at a time: a long-lived worker does not grow
            ctx = _settings_cache[key] = SettingsContext(**serialized)
    # A new context object around the same (immutable) models: entering one instance twice would share its token.
    return SettingsContext(profile=ctx.profile, settings=ctx.settings)


def _cached_hydrated_context(original):
    @contextmanager
    def hydrated_context(serialized_context: dict[str, Any] | None = None, client: Any = None):
        settings = (serialized_context or {}).get("settings_context")
        if not settings:
            with original(serialized_context, client):
                yield
            return
        rest = {**serialized_context, "settings_context": None}  # type: ignore[dict-item]
        with _settings_context(settings), original(rest, client):
            yield

    hydrated_context._claimscope_cached = True  # type: ignore[attr-defined]
    return hydrated_context


def install() -> None:
    """Idempotent: patch this process's Prefect (task engine and client module) once."""
    import prefect.client.orchestration as orchestration
    import prefect.task_engine as task_engine

    if not isinstance(orchestration.ssl, _CachedSSL):
        orchestration.ssl = _CachedSSL()  # type: ignore[assignment]
    if not getattr(task_engine.hydrated_context, "_claimscope_cached", False):
        task_engine.hydrated_context = _cached_hydrated_context(task_engine.hydrated_context)


def dask_setup(worker: Any) -> None:  # distributed's preload hook
    import flows.settings  # noqa: F401  (project Prefect settings before Prefect is imported)

    install()
