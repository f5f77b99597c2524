"""Streaming files into the store, in-line and through the parser process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.ingest.importer import import_files
from bot.store import SqlStore


def make_file(path: Path, good: int) -> Path:
    lines = [
        json.dumps(
            {
                "title": f"Article {i}",
                "text": f"Corps de l'article numéro {i}.",
                "category": "Sport",
            }
        )
        for i in range(good)
    ]
    lines.insert(3, "{broken")
    lines.insert(7, json.dumps({"title": "sans texte"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("threshold", [0, 10**9], ids=["process", "in-line"])
async def test_import_reports_problems_by_line_either_way(
    store: SqlStore, tmp_path: Path, threshold: int
) -> None:
    path = make_file(tmp_path / "a.jsonl", 2500)  # more than one batch
    problems: list[str] = []
    report = await import_files(store, [path], problems.append, process_threshold=threshold)
    assert (report.imported, report.duplicates, report.rejected) == (2500, 0, 2)
    assert [p.split(": ")[0] for p in problems] == [f"{path}:4", f"{path}:8"]
    assert sorted(report.ids) == list(range(1, 2501))
    assert await store.count_articles(category="sport") == 2500

    again = await import_files(store, [path], problems.append, process_threshold=threshold)
    assert (again.imported, again.duplicates) == (0, 2500)


async def test_unreadable_files_are_reported_and_skipped(store: SqlStore, tmp_path: Path) -> None:
    good = make_file(tmp_path / "good.jsonl", 3)
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\x00\x01\x02")
    problems: list[str] = []
    report = await import_files(store, [tmp_path / "nope.txt", binary, good], problems.append)
    assert report.unreadable_files == 2 and report.imported == 3
    assert problems[0].startswith(f"{tmp_path / 'nope.txt'}:0: ")
    assert problems[1].startswith(f"{binary}:0: ")
