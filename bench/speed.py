"""Milliseconds per summary (p50 and p95), per algorithm, for a news article and a very long one.

    python bench/speed.py                  # ~800 and ~20,000 words, 40 runs (5 past 5,000 words)
    python bench/speed.py --runs 100 --sizes 800,5000,20000 --algorithms default,lead

Articles are built by concatenating articles of `../shared/data/orangesum-dev-fr.jsonl`
(relative to the repository root; `--data` points elsewhere) until the word count is reached.
Each size also runs plain sumy LexRank on the same text (sumy's own document model over the
same sentence splitter, no cleaning, no window: what calling sumy directly costs) and prints
our default's time as a ratio of it. Targets: default <= 15 ms at p95 for 800 words (the
machine is shared: read the ratio to LexRank, measured in the same run), <= 1 s at 20,000.

The first call of a process loads py3langid's model and fills the stemmer cache; one warm-up
summary runs before timing so the medians measure steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.clock import SystemClock  # noqa: E402
from bot.summarize import ALGORITHMS, summarize  # noqa: E402

# A benchmark is a program: the machine's clock, made once, as `newsbot` does.
CLOCK = SystemClock()

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "orangesum-dev-fr.jsonl"
# Plain LexRank is quadratic in pure Python: past this many seconds per run, time it once.
_SLOW = 5.0


def load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        sys.exit(
            f"error: {path} not found. The benchmark reads the OrangeSum dev set from "
            "../shared/data/ relative to the repository root; pass --data FILE to use another copy."
        )
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def build(rows: list[dict[str, Any]], words: int) -> str:
    """Paragraphs of whole articles until the text has at least `words` words."""
    parts: list[str] = []
    count = 0
    for row in rows:
        parts.append(row["text"])
        count += len(row["text"].split())
        if count >= words:
            break
    return "\n\n".join(parts)


def plain_lexrank(text: str) -> list[str]:
    """sumy LexRank as a caller would use it, with our tokenizer standing in for NLTK punkt."""
    from sumy.nlp.stemmers import Stemmer
    from sumy.parsers.plaintext import PlaintextParser
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.utils import get_stop_words

    from bot.summarize._tokenize import SumyTokenizer

    parser = PlaintextParser.from_string(text, SumyTokenizer("fr"))
    summarizer = LexRankSummarizer(Stemmer("french"))
    summarizer.stop_words = get_stop_words("french")
    return [str(s) for s in summarizer(parser.document, 3)]


def timings_ms(call: Callable[[], object], runs: int) -> list[float]:
    """Milliseconds of each run, sorted; stops early once a run exceeds `_SLOW` seconds."""
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
        if times[-1] > 1000 * _SLOW:
            break
    return sorted(times)


def percentile(times: list[float], share: float) -> float:
    """The `share` percentile of sorted `times` (nearest rank)."""
    return times[min(len(times) - 1, max(0, round(share * len(times)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="OrangeSum-style JSONL")
    parser.add_argument("--runs", type=int, default=40, help="runs per measurement (40)")
    parser.add_argument("--long-runs", type=int, default=5, help="runs past 5,000 words (5)")
    parser.add_argument("--sizes", default="800,20000", help="word counts, comma-separated")
    parser.add_argument(
        "--algorithms", default="default,lead,lexrank", help="comma-separated, or 'all'"
    )
    args = parser.parse_args(argv)
    rows = load(args.data)
    sizes = [int(s) for s in args.sizes.split(",")]
    algorithms = list(ALGORITHMS) if args.algorithms == "all" else args.algorithms.split(",")
    texts = {size: build(rows, size) for size in sizes}
    titles = {size: rows[0]["title"] for size in sizes}
    summarize(texts[sizes[0]], language="fr")  # warm-up: language model, caches

    def runs(size: int) -> int:
        return args.runs if size <= 5000 else args.long_runs

    print(
        "ms per summary at the default length (French, language and title given), "
        f"p50 / p95 of {args.runs} runs ({args.long_runs} past 5,000 words)\n"
    )
    print(f"{'algorithm':<14}" + "".join(f"{len(t.split()):>14}w" for t in texts.values()))
    results: dict[str, dict[int, list[float]]] = {}

    def show(name: str, by_size: dict[int, list[float]]) -> None:
        cells = "".join(
            f"{percentile(by_size[s], 0.5):7.1f} /{percentile(by_size[s], 0.95):6.1f}"
            for s in sizes
        )
        print(f"{name:<14}{cells}")

    for name in algorithms:
        results[name] = {
            size: timings_ms(
                lambda t=text, a=name, h=titles[size]: summarize(
                    t, title=h, algorithm=a, language="fr"
                ),
                runs(size),
            )
            for size, text in texts.items()
        }
        show(name, results[name])
    plain = {
        size: timings_ms(lambda t=text: plain_lexrank(t), runs(size))
        for size, text in texts.items()
    }
    show("plain-lexrank", plain)
    detect = {
        size: timings_ms(lambda t=text: summarize(t), runs(size)) for size, text in texts.items()
    }
    show("default+detect", detect)
    if "default" in results:
        ratios = "".join(
            f"{percentile(results['default'][s], 0.5) / percentile(plain[s], 0.5):15.3f}"
            for s in sizes
        )
        print(f"\n{'default/plain':<14}{ratios}   (p50 ratio, same run)")
    cached, computed = asyncio.run(cached_lookup(texts[sizes[0]], args.runs))
    print(
        f"\ncached summary (SummaryService on SQLite): median {cached:.2f} ms "
        f"vs {computed:.1f} ms to compute it (target <= 2 ms)"
    )
    return 0


async def cached_lookup(text: str, runs: int) -> tuple[float, float]:
    """What a reader's /summary costs once the summary is cached: the service's store lookup."""
    from bot.config import SummaryConfig
    from bot.deliver.rules import PushRules
    from bot.models import NewArticle
    from bot.services.summaries import SummaryService
    from bot.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(
            f"sqlite+aiosqlite:///{tmp}/speed.db", clock=CLOCK, rules=PushRules()
        )
        try:
            (article_id,) = (await store.add_articles([NewArticle("Titre", text)])).ids
            article = await store.get_article(article_id)
            service = SummaryService(store, SummaryConfig())
            start = time.perf_counter()
            await service.summary(article)  # computes and caches
            computed = 1000 * (time.perf_counter() - start)
            times = []
            for _ in range(max(runs, 50)):
                start = time.perf_counter()
                await service.summary(article)
                times.append(time.perf_counter() - start)
        finally:
            await store.close()
    return 1000 * statistics.median(times), computed


if __name__ == "__main__":
    sys.exit(main())
