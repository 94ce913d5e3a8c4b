"""Derived DuckDB views, created in the warehouse after the table views. SQL files in flows/sql/, in order."""

from __future__ import annotations

from pathlib import Path

from transforms.lexicon import load_yaml

SQL_DIR = Path(__file__).resolve().parent / "sql"


def _params() -> dict[str, str]:
    """Values from lexicons/analytics.yaml substituted into the SQL ({name}), quoted for a SQL literal."""
    cfg = load_yaml("analytics.yaml")
    return {"consult_professional": cfg["scorecards"]["consult_professional"].replace("'", "''")}


def derived_views() -> list[tuple[str, str]]:
    """(name, CREATE VIEW statement) for every flows/sql/NN_<name>.sql, sorted by file name."""
    params = _params()
    out = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        for key, value in params.items():
            sql = sql.replace("{" + key + "}", value)
        out.append((path.stem.split("_", 1)[1], sql))
    return out
