"""Dask worker preload (`distributed.worker.preload`): trims Prefect's fixed cost per task on a worker.

A Prefect task run on a Dask worker rebuilds the flow's settings from their serialized form (pydantic-settings
re-reads the environment, prefect.toml and .env for every nested model) and opens two API clients, each with a
fresh certifi SSL context, before its body starts. `python -m benchmarks.bench_task_cost` (100 no-op tasks on
two workers, two rounds) measured 98-111 ms of worker CPU per task without this preload and 10-12 ms with it; a
100k-article build runs about 240 tasks. Both caches keep what Prefect would build: the same settings values and
the same verified context, built once per worker process instead of once per task.

`claimscope build --workers N` preloads this on its LocalCluster; on your own cluster start the workers with
`dask worker --preload flows.dask_worker ...` (optional: without it tasks only cost more).

The flow process has the mirror cost: prefect-dask serialises the flow's settings (a pydantic dump of every
nested model, then a walk over it for secrets and paths) for every task it submits, while the workers want both
cores. `install_submit_cache()` keeps the last dump per settings context, as Prefect's own process-pool runner
keeps its whole serialized context per runner (`ProcessPoolTaskRunner._cached_context`).
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


def _memoized_serialize(original):
    last: list[tuple[Any, bool, dict[str, Any]]] = []

    def serialize(self: Any, include_secrets: bool = True) -> dict[str, Any]:
        # Keyed by identity: Prefect changes settings by entering a new context (temporary_settings), never by
        # mutating one, and the entry holds the context, so its id cannot be reused while cached.
        hit = last[0] if last else None
        if hit is not None and hit[0] is self and hit[1] == include_secrets:
            return hit[2]
        out = original(self, include_secrets=include_secrets)
        last[:] = [(self, include_secrets, out)]
        return out

    serialize._claimscope_cached = True  # type: ignore[attr-defined]
    serialize._claimscope_original = original  # type: ignore[attr-defined]
    return serialize


def install_submit_cache() -> None:
    """Idempotent: the flow process serialises each settings context once, not once per submitted task.

    Its consumers only read the dict (Dask pickles it; `hydrated_context` builds a new context from it).
    """
    from prefect.context import SettingsContext

    if not getattr(SettingsContext.serialize, "_claimscope_cached", False):
        SettingsContext.serialize = _memoized_serialize(SettingsContext.serialize)  # type: ignore[method-assign]


def uninstall_submit_cache() -> None:
    """For benchmarks that compare with and without the cache in one process."""
    from prefect.context import SettingsContext

    original = getattr(SettingsContext.serialize, "_claimscope_original", None)
    if original is not None:
        SettingsContext.serialize = original  # type: ignore[method-assign]


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
