"""Analyst-editable data files (cue lexicons, entities, topic taxonomy, abbreviations) live in `lexicons/`.

Set CLAIMSCOPE_LEXICONS to point at an edited copy without touching the repository.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from transforms.errors import LexiconError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def lexicon_dir() -> Path:
    return Path(os.environ.get("CLAIMSCOPE_LEXICONS", PROJECT_ROOT / "lexicons")).resolve()


@cache
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
    return _load_yaml(lexicon_dir() / name)


def load_lines(name: str) -> list[str]:
    """Load a one-entry-per-line file, skipping blanks and `#` comments."""
    path = lexicon_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise LexiconError(f"lexicon file not found: {path}") from exc
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def lexicon_fingerprint() -> str:
    """Hash of every lexicon file: part of the incremental-build key, so editing a cue reprocesses."""
    h = hashlib.sha256()
    root = lexicon_dir()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]
