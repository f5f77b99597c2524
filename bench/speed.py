"""Milliseconds per summary, per algorithm, for short, long and very long articles.

    python bench/speed.py                  # ~800, ~5,000 and ~20,000 words, median of 5 runs
    python bench/speed.py --runs 9 --sizes 800,20000

Articles are built by concatenating articles of `../shared/data/orangesum-dev-fr.jsonl`
(relative to the repository root; `--data` points elsewhere) until the word count is reached.
Each size also runs plain sumy LexRank on the same text (sumy's own document model over the
same sentence splitter, no cleaning, no window: what calling sumy directly costs) and prints
our default's time as a ratio of it. Targets: default <= 50 ms at 800 words, <= 1 s at 20,000.

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


def median_ms(call: Callable[[], object], runs: int) -> float:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        if times[-1] > _SLOW:
            break
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="OrangeSum-style JSONL")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--sizes", default="800,5000,20000", help="word counts, comma-separated")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS), help="comma-separated")
    args = parser.parse_args(argv)
    rows = load(args.data)
    sizes = [int(s) for s in args.sizes.split(",")]
    algorithms = args.algorithms.split(",")
    texts = {size: build(rows, size) for size in sizes}
    summarize(texts[sizes[0]], language="fr")  # warm-up: language model, caches

    header = f"{'algorithm':<14}" + "".join(f"{len(t.split()):>9}w" for t in texts.values())
    print(f"ms per 3-sentence summary, median of {args.runs} runs (French, language given)\n")
    print(header)
    results: dict[str, dict[int, float]] = {}
    for name in algorithms:
        results[name] = {
            size: median_ms(
                lambda t=text, a=name: summarize(t, algorithm=a, language="fr"), args.runs
            )
            for size, text in texts.items()
        }
        print(f"{name:<14}" + "".join(f"{results[name][s]:10.1f}" for s in sizes))
    plain = {
        size: median_ms(lambda t=text: plain_lexrank(t), args.runs) for size, text in texts.items()
    }
    print(f"{'plain-lexrank':<14}" + "".join(f"{plain[s]:10.1f}" for s in sizes))
    detect = {
        size: median_ms(lambda t=text: summarize(t), args.runs) for size, text in texts.items()
    }
    print(f"{'default+detect':<14}" + "".join(f"{detect[s]:10.1f}" for s in sizes))
    if "default" in results:
        ratios = "".join(f"{results['default'][s] / plain[s]:10.3f}" for s in sizes)
        print(f"\n{'default/plain':<14}{ratios}")
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
