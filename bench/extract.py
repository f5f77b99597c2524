"""How well, and how fast, article pages are extracted: body token precision/recall/F1.

    python bench/extract.py                  # the shipped settings, one row per page + overall
    python bench/extract.py --grid           # every trafilatura setting we considered, overall
    python bench/extract.py --raw            # without our clean-up of trafilatura's text

The data is `../shared/data/pages-dev/` relative to the repository root (real French news pages;
`index.jsonl` gives per page its fields and `text`, the expected body); `--data` points
elsewhere. Tokens are lowercased \\w+ runs; precision is the share of extracted tokens found in
the expected body (as a multiset), recall the share of expected tokens extracted, F1 their
harmonic mean, and "overall" the mean over pages. Time is the median of `--runs` passes, per
page, after one warm-up pass (the first call loads trafilatura's models and caches).

The metadata columns check what ingest also takes from the page: title, author, date, section
(a cell is "ok" when it equals the index's field).

Target: F1 >= 0.9 overall.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.ingest.extract import DEFAULT_OPTIONS, ExtractOptions, extract_page  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "pages-dev"
_WORD = re.compile(r"\w+")

GRID: dict[str, ExtractOptions] = {
    "whole page, balanced, fallbacks": ExtractOptions(fast=False, focus=False),
    "whole page, fast": ExtractOptions(fast=True, focus=False),
    "whole page, fast + precision": ExtractOptions(fast=True, favor_precision=True, focus=False),
    "whole page, fast + recall": ExtractOptions(fast=True, favor_recall=True, focus=False),
    "whole page, precision, fallbacks": ExtractOptions(
        favor_precision=True, focus=False, fast=False
    ),
    "whole page, recall, fallbacks": ExtractOptions(favor_recall=True, focus=False, fast=False),
    "article, balanced, fallbacks": ExtractOptions(fast=False),
    "article, fast (shipped)": ExtractOptions(fast=True),
    "article, fast + precision": ExtractOptions(fast=True, favor_precision=True),
    "article, fast + recall": ExtractOptions(fast=True, favor_recall=True),
    "article, fast + tables": ExtractOptions(fast=True, include_tables=True),
}


def tokens(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text.lower()))


def prf(extracted: str, expected: str) -> tuple[float, float, float]:
    got, want = tokens(extracted), tokens(expected)
    overlap = sum((got & want).values())
    precision = overlap / max(1, sum(got.values()))
    recall = overlap / max(1, sum(want.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def load(directory: Path) -> list[tuple[dict[str, Any], bytes]]:
    index = directory / "index.jsonl"
    if not index.is_file():
        sys.exit(
            f"error: {index} not found. The benchmark reads ../shared/data/pages-dev/ relative to "
            "the repository root; pass --data DIR to use another copy."
        )
    pages = []
    with index.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                pages.append((record, (directory / f"{record['id']}.html").read_bytes()))
    return pages


def run(
    pages: list[tuple[dict[str, Any], bytes]], options: ExtractOptions, runs: int, raw: bool
) -> tuple[list[tuple[float, float, float]], list[Any], float]:
    def once() -> list[Any]:
        return [
            extract_page(html, url=record["url"], options=options, clean=not raw)
            for record, html in pages
        ]

    results = once()  # warm-up, and the results scored
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) / len(pages))
    scores = [
        prf(result.text if result else "", record["text"])
        for (record, _), result in zip(pages, results, strict=True)
    ]
    return scores, results, statistics.median(times)


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="pages directory")
    parser.add_argument("--runs", type=int, default=3, help="timed passes (median)")
    parser.add_argument("--grid", action="store_true", help="compare trafilatura settings")
    parser.add_argument("--raw", action="store_true", help="skip our clean-up of the body")
    args = parser.parse_args()
    pages = load(args.data)

    if args.grid:
        print(f"{'setting':<36} {'P':>6} {'R':>6} {'F1':>6} {'ms/page':>8}")
        for name, options in GRID.items():
            scores, _, per_page = run(pages, options, args.runs, args.raw)
            p, r, f = (mean([s[i] for s in scores]) for i in range(3))
            print(f"{name:<36} {p:6.3f} {r:6.3f} {f:6.3f} {per_page * 1000:8.1f}")
        return

    scores, results, per_page = run(pages, DEFAULT_OPTIONS, args.runs, args.raw)
    print(f"{'page':<18} {'P':>6} {'R':>6} {'F1':>6}  title author date   section")
    checks: Counter[str] = Counter()
    for (record, _), (p, r, f), result in zip(pages, scores, results, strict=True):
        marks = []
        for name, got, want in (
            ("title", result and result.title, record.get("title")),
            ("author", result and result.author, record.get("author") or None),
            ("date", result and result.published and result.published.date().isoformat(),
             record.get("date")),
            ("section", result and result.section, record.get("section")),
        ):  # fmt: skip
            ok = got == want
            checks[name] += ok
            marks.append("ok" if ok else "--")
        print(f"{record['id']:<18} {p:6.3f} {r:6.3f} {f:6.3f}  " + "    ".join(marks))
    p, r, f = (mean([s[i] for s in scores]) for i in range(3))
    print(f"{'overall':<18} {p:6.3f} {r:6.3f} {f:6.3f}  ({len(pages)} pages)")
    print(
        "metadata equal to the index: "
        + ", ".join(f"{name} {count}/{len(pages)}" for name, count in checks.items())
    )
    print(f"time: {per_page * 1000:.1f} ms/page (median of {args.runs} passes)")
    print(f"target F1 >= 0.9: {'met' if f >= 0.9 else 'NOT met'}")


if __name__ == "__main__":
    main()
