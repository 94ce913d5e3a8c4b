"""Discovery: every file accounted for, exact duplicates found, and the hash inventory a re-run reuses."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flows.discover import INVENTORY_SCHEMA, discover, stat_cache_from


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    (root / "b").mkdir(parents=True)
    (root / "b" / "z.txt").write_text("Kratom is not addictive.\n", encoding="utf-8")
    (root / "a.txt").write_text("Kratom may cause dependence.\n", encoding="utf-8")
    (root / "b" / "copy.txt").write_text("Kratom may cause dependence.\n", encoding="utf-8")
    (root / "empty.txt").write_bytes(b"")
    return root


def test_the_inventory_holds_every_hashed_file_duplicates_included(tmp_path):
    found = discover(_folder(tmp_path))
    assert [f.rel for f in found.files] == ["a.txt", "b/z.txt"]
    assert {r["source_file"]: r["reason"] for r in found.rejected} == {
        "b/copy.txt": "duplicate",
        "empty.txt": "empty",
    }
    table = found.inventory_table()
    assert table.schema == INVENTORY_SCHEMA
    assert table["source_file"].to_pylist() == ["a.txt", "b/copy.txt", "b/z.txt"]  # walk order
    sha = hashlib.sha256(b"Kratom may cause dependence.\n").hexdigest()
    assert table["content_sha256"].to_pylist()[:2] == [sha, sha]
    assert table["size"].to_pylist() == [len(b"Kratom may cause dependence.\n")] * 2 + [25]
    assert found.inventory_hashes() == sorted(
        zip(table["source_file"].to_pylist(), table["content_sha256"].to_pylist(), strict=True)
    )


def test_a_rerun_takes_every_hash_from_the_inventory(tmp_path):
    root = _folder(tmp_path)
    first = discover(root)
    assert first.n_hashed == 3
    again = discover(root, stat_cache=stat_cache_from(first.inventory_table()))
    assert again.n_hashed == 0
    assert again.inventory_table().equals(first.inventory_table())
    (root / "a.txt").write_text("Kratom may cause dependence in some users.\n", encoding="utf-8")
    assert discover(root, stat_cache=stat_cache_from(first.inventory_table())).n_hashed == 1


def test_an_empty_folder_has_an_empty_inventory_of_the_right_types(tmp_path):
    (tmp_path / "in").mkdir()
    found = discover(tmp_path / "in")
    assert found.inventory_table().schema == INVENTORY_SCHEMA
    assert found.inventory_table().num_rows == 0
    assert found.inventory_hashes() == []


def test_the_hashes_come_in_path_order_not_walk_order(tmp_path):
    # the walk takes a folder's own files before its subfolders: c.txt, then b/a.txt
    root = tmp_path / "in"
    (root / "b").mkdir(parents=True)
    (root / "c.txt").write_text("Kratom is safe.\n", encoding="utf-8")
    (root / "b" / "a.txt").write_text("Kratom is not safe.\n", encoding="utf-8")
    found = discover(root)
    assert found.inventory_table()["source_file"].to_pylist() == ["c.txt", "b/a.txt"]
    assert [rel for rel, _ in found.inventory_hashes()] == ["b/a.txt", "c.txt"]
