"""Analyst-editable data files (cue lexicons, entities, topic taxonomy, abbreviations) live in `lexicons/`.

Set CLAIMSCOPE_LEXICONS to point at an edited copy without touching the repository.

Everything compiled from these files is cached per process with `lexicon_cache`. A long-running process (the
`serve` scheduler, a Dask worker) calls `refresh()` at the start of each build: when the files changed since
they were compiled, every cache is dropped, so the rules that run always match the pipeline fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from transforms.errors import LexiconError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def lexicon_dir() -> Path:
    return Path(os.environ.get("CLAIMSCOPE_LEXICONS", PROJECT_ROOT / "lexicons")).resolve()


T = TypeVar("T")
_CACHES: list[tuple[Callable[[], Any], bool]] = []  # (cached function, compile eagerly after a refresh)
_loaded: str | None = None  # fingerprint of the files the caches were filled from


def lexicon_cache(
    fn: Callable[..., T] | None = None, *, eager: bool = False, maxsize: int | None = None
) -> Any:
    """functools.cache (or an LRU of `maxsize`) for anything computed from lexicon files; dropped together by
    `refresh()`."""

    def wrap(f: Callable[..., T]) -> Callable[..., T]:
        cached = functools.lru_cache(maxsize=maxsize)(f)
        _CACHES.append((cached, eager))
        return cached

    return wrap(fn) if fn is not None else wrap


def refresh() -> bool:
    """Drop compiled lexicons if the files changed since they were loaded. Returns whether anything changed."""
    global _loaded
    current = lexicon_fingerprint()
    if _loaded is None or current == _loaded:
        _loaded = current
        return False
    for cached, _ in _CACHES:
        cached.cache_clear()  # type: ignore[attr-defined]
    _loaded = current
    for cached, eager in _CACHES:
        if eager:
            cached()
    return True


@lexicon_cache
def _load_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise LexiconError(f"lexicon file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise LexiconError(f"lexicon file {path} is not valid YAML: {exc}") from exc


def load_yaml(name: str) -> Any:
    """Load `lexicons/<name>` (cached per path)."""
    _note_loaded()
    return _load_yaml(lexicon_dir() / name)


def _note_loaded() -> None:
    global _loaded
    if _loaded is None:
        _loaded = lexicon_fingerprint()


def load_lines(name: str) -> list[str]:
    """Load a one-entry-per-line file, skipping blanks and `#` comments."""
    _note_loaded()
    path = lexicon_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LexiconError(f"lexicon file not found: {path}") from exc
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def lexicon_fingerprint() -> str:
    """Hash of every lexicon file: part of the incremental-build key, so editing a cue reprocesses."""
    root = lexicon_dir()
    h = hashlib.sha256(str(root).encode())
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]
