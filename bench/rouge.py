"""ROUGE of every summarization algorithm on the French news dev set, and the splitter check.

    python bench/rouge.py                 # ROUGE-1/2/L F1 at 3 sentences, one row per algorithm
    python bench/rouge.py --splitters     # how candidate sentence splitters do on French news

The data is `../shared/data/orangesum-dev-fr.jsonl` relative to the repository root (300
OrangeSum articles with a human `reference` summary); `--data` points elsewhere.

rouge-score's default tokenizer keeps only [a-z0-9], which deletes every accented letter of
French text ("été" -> "t"); we pass a Unicode tokenizer (lowercased \\w+ runs) instead and no
stemmer, the same for all algorithms.

The "repeats" column counts summaries in which two sentences are the same or near-duplicates
(Jaccard >= 0.7 on their word sets): a summary should never say the same thing twice.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.errors import SummaryError  # noqa: E402
from bot.summarize import (  # noqa: E402
    ALGORITHMS,
    AUTO,
    DEFAULT_SENTENCES,
    split_sentences,
    summarize,
    word_budget,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "orangesum-dev-fr.jsonl"
CASES = ROOT / "tests" / "fixtures" / "summarize" / "sentence_cases.json"
_WORD = re.compile(r"\w+")


class UnicodeTokenizer:
    """Lowercased \\w+ tokens: keeps "été" whole, unlike rouge-score's ASCII tokenizer."""

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


def load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        sys.exit(
            f"error: {path} not found. The benchmark reads the OrangeSum dev set from "
            "../shared/data/ relative to the repository root; pass --data FILE to use another copy."
        )
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def repeats(summary: list[str]) -> bool:
    """True when two sentences of the summary are equal or near-duplicates."""
    sets = [set(_WORD.findall(s.lower())) for s in summary]
    for i, a in enumerate(sets):
        for b in sets[i + 1 :]:
            if a == b or (a and b and len(a & b) / len(a | b) >= 0.7):
                return True
    return False


@dataclass(frozen=True)
class System:
    """One row of the table: an algorithm at a length."""

    label: str
    algorithm: str
    sentences: int
    max_words: int | str | None  # AUTO: the summarizer's word budget for the language


def default_systems() -> list[System]:
    """`default` at its default length, Lead-3, lead cut like the default, sumy LexRank."""
    return [
        System("default", "default", DEFAULT_SENTENCES, AUTO),
        System("lead-3", "lead", 3, None),
        System("lead@default", "lead", DEFAULT_SENTENCES, AUTO),
        System("lexrank-3", "lexrank", 3, None),
    ]


def rouge_table(rows: list[dict[str, Any]], systems: list[System], language: str) -> None:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(
        ["rouge1", "rouge2", "rougeL"], use_stemmer=False, tokenizer=UnicodeTokenizer()
    )
    reference_words = statistics.mean(len(r["reference"].split()) for r in rows)
    print(
        f"ROUGE F1 x100 on {len(rows)} articles ({language}; references: "
        f"{reference_words:.1f} words on average)\n"
    )
    print(
        f"{'system':<13} {'length':<14} {'R1':>6} {'R2':>6} {'RL':>6} {'words':>6} "
        f"{'repeats':>8} {'errors':>7}"
    )
    results: dict[str, tuple[float, float, float]] = {}
    for system in systems:
        r1: list[float] = []
        r2: list[float] = []
        rl: list[float] = []
        lengths: list[int] = []
        repeated = errors = 0
        for row in rows:
            try:
                summary = summarize(
                    row["text"],
                    title=row.get("title"),
                    algorithm=system.algorithm,
                    sentences=system.sentences,
                    max_words=system.max_words,  # type: ignore[arg-type]
                    language=language,
                )
            except SummaryError:
                errors += 1
                summary = []
            repeated += repeats(summary)
            text = " ".join(summary)
            lengths.append(len(text.split()))
            scores = scorer.score(row["reference"], text)
            r1.append(scores["rouge1"].fmeasure)
            r2.append(scores["rouge2"].fmeasure)
            rl.append(scores["rougeL"].fmeasure)
        result = (statistics.mean(r1), statistics.mean(r2), statistics.mean(rl))
        results[system.label] = result
        words = system.max_words
        if words == AUTO:
            words = word_budget(system.sentences, language)
        length = f"{system.sentences} sent" + (f" <={words}w" if words else "")
        print(
            f"{system.label:<13} {length:<14} {100 * result[0]:6.2f} {100 * result[1]:6.2f} "
            f"{100 * result[2]:6.2f} {statistics.mean(lengths):6.1f} {repeated:8d} {errors:7d}"
        )
    if "default" in results and "lead-3" in results:
        d, lead = results["default"], results["lead-3"]
        gains = ", ".join(
            f"{k} {100 * (a - b):+.2f}" for k, a, b in zip(("R1", "R2", "RL"), d, lead, strict=True)
        )
        print(f"\ndefault - lead-3: {gains}")


# --- sentence splitter comparison -----------------------------------------------------------

_GLUED = re.compile(r"[a-zà-ÿ0-9][\"”»)]?[.!?][A-ZÀ-Ý](?:[a-zà-ÿ]|['’][A-Za-zÀ-ÿ])")


def _splitters() -> dict[str, Any]:
    from nltk.tokenize.punkt import PunktSentenceTokenizer
    from sentence_splitter import SentenceSplitter

    punkt = PunktSentenceTokenizer()  # untrained: the only Punkt that needs no data download
    moses = {code: SentenceSplitter(code) for code in ("fr", "en")}
    naive = re.compile(r"(?<=[.!?…])\s+(?=[«\"“(]?[A-ZÀ-Ý])")

    def plain(split: Any) -> Any:
        return lambda text, code: [
            s.strip() for para in re.split(r"\n\s*\n", text) for s in split(para, code) if s.strip()
        ]

    return {
        "regex": plain(lambda t, c: naive.split(" ".join(t.split()))),
        "nltk-punkt": plain(lambda t, c: punkt.tokenize(" ".join(t.split()))),
        "moses": plain(lambda t, c: moses[c].split(" ".join(t.split()))),
        "ours": lambda t, c: split_sentences(t, c),
    }


def _boundaries(sentences: list[str]) -> set[int]:
    """Sentence ends as offsets in the text with all whitespace removed."""
    ends: set[int] = set()
    offset = 0
    for sentence in sentences[:-1]:
        offset += len("".join(sentence.split()))
        ends.add(offset)
    return ends


def splitter_table(rows: list[dict[str, Any]]) -> None:
    cases = json.loads(CASES.read_text(encoding="utf-8"))
    where = CASES.relative_to(ROOT)
    print(f"Hand-checked cases ({len(cases)}, {where}) and {len(rows)} dev articles\n")
    print(
        f"{'splitter':<11} {'exact':>7} {'bnd P':>6} {'bnd R':>6} | {'sents':>6} "
        f"{'lower-start':>11} {'glued-left':>10} {'>80 words':>9} {'ms/article':>10}"
    )
    for name, split in _splitters().items():
        exact = tp = fp = fn = 0
        for case in cases:
            got = split(case["text"], case["language"])
            exact += got == case["sentences"]
            want_b, got_b = _boundaries(case["sentences"]), _boundaries(got)
            tp += len(want_b & got_b)
            fp += len(got_b - want_b)
            fn += len(want_b - got_b)
        total = lower = glued = long = 0
        start = time.perf_counter()
        for row in rows:
            for sentence in split(row["text"], "fr"):
                total += 1
                lower += sentence[0].islower()
                glued += len(_GLUED.findall(sentence))
                long += len(sentence.split()) > 80
        elapsed = 1000 * (time.perf_counter() - start) / len(rows)
        print(
            f"{name:<11} {exact:>3}/{len(cases):<3} {tp / max(tp + fp, 1):6.3f} "
            f"{tp / max(tp + fn, 1):6.3f} | {total:6d} {lower:11d} {glued:10d} {long:9d} "
            f"{elapsed:10.2f}"
        )
    print(
        "\nexact: cases split exactly as annotated; bnd P/R: boundary precision/recall on them."
        "\nOn the dev articles (no gold): lower-start = pieces starting lowercase (false splits),"
        "\nglued-left = 'word.Word' left inside a piece (missed splits), >80 words = run-ons."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="OrangeSum-style JSONL file"
    )
    parser.add_argument(
        "--algorithms",
        help="instead of the default table, these algorithms (comma-separated, 'all' for every "
        "one) at --sentences and --max-words",
    )
    parser.add_argument("--sentences", type=int, default=3, help="with --algorithms (3)")
    parser.add_argument("--max-words", type=int, default=None, help="with --algorithms (none)")
    parser.add_argument("--language", default="fr", help="language of the data (fr)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument(
        "--splitters", action="store_true", help="compare sentence splitters instead"
    )
    args = parser.parse_args(argv)
    rows = load(args.data)[: args.limit]
    if args.splitters:
        splitter_table(rows)
    else:
        systems = default_systems()
        if args.algorithms:
            names = ALGORITHMS if args.algorithms == "all" else args.algorithms.split(",")
            systems = [System(n, n, args.sentences, args.max_words) for n in names]
        rouge_table(rows, systems, args.language)
    return 0


if __name__ == "__main__":
    sys.exit(main())
