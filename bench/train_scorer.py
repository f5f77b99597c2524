"""Fit the `default` summarizer's sentence scorer and summary model, and write their weights into
the package.

    python bench/train_scorer.py                     # fit on the train split, write the weights
    python bench/train_scorer.py --dry-run           # fit and report, write nothing

Data: `../shared/data/orangesum-train-fr.jsonl` relative to the repository root (6,000 French
OrangeSum articles with their professional abstract as `reference`; `--train` points
elsewhere). Its last `--holdout` articles (1,000) are held out of the fit and used to choose
the regularisation and to show the summary length trade-off; the dev set
(`orangesum-dev-fr.jsonl`, reported by `bench/rouge.py`) is never read here.

Steps, all deterministic (same data -> same file, byte for byte):

1. each article goes through the summarizer's own cleaning (`prepare`) and features
   (`bot.summarize._learned.features`), so training sees exactly what the bot sees;
2. each candidate is labelled 1 when a greedy ROUGE oracle keeps it: sentences are added while
   they raise ROUGE-1 + ROUGE-2 F1 against the abstract (F1, not recall, so long sentences are
   not favoured for their length);
3. a logistic regression on standardised features is fitted by Newton's method with an L2
   penalty (numpy only), for each penalty in `--penalties`; the one with the best held-out
   ROUGE at the default length (budget filled) is kept;
4. the summary model: each fitting article's sentences are scored by a sentence model fitted
   without its fifth of the articles (out of fold, so the scores are as on unseen text), every
   combination of its best picks within the default budget (`_learned.summary_options`) gets
   its ROUGE-1 + ROUGE-2 + ROUGE-L F1, and a linear model of those on the combination's
   features is fitted by least squares within articles, for each of `--summary-penalties`;
   the one with the best held-out ROUGE is kept;
5. the weights are written to `bot/summarize/scorer_weights.json`, rounded to 6 digits, with
   the data's credit (OrangeSum, CC BY-SA 4.0).

ROUGE here is a small re-implementation (lowercased \\w+ tokens, F1 of unigrams, bigrams and
the longest common subsequence, as `bench/rouge.py` configures rouge-score) because it runs on
tens of thousands of candidate summaries; `bench/rouge.py` gives the reference figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.errors import SummaryError  # noqa: E402
from bot.summarize import DEFAULT_MAX_WORDS, DEFAULT_SENTENCES  # noqa: E402
from bot.summarize._algorithms import ALGORITHMS  # noqa: E402
from bot.summarize._clean import prepare  # noqa: E402
from bot.summarize._learned import (  # noqa: E402
    FEATURES,
    SUMMARY_FEATURES,
    WEIGHTS_FILE,
    Scorer,
    choose,
    features,
    pick,
    summary_options,
)

DEFAULT_TRAIN = ROOT.parent / "shared" / "data" / "orangesum-train-fr.jsonl"
WEIGHTS = ROOT / "bot" / "summarize" / WEIGHTS_FILE
_WORD = re.compile(r"\w+")
_ORACLE_MAX = 4


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _f1(overlap: int, produced: int, wanted: int) -> float:
    if not overlap:
        return 0.0
    p, r = overlap / produced, overlap / wanted
    return 2 * p * r / (p + r)


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _rouge_n(summary: list[str], reference: list[str], n: int) -> float:
    got, want = _ngrams(summary, n), _ngrams(reference, n)
    return _f1(sum((got & want).values()), sum(got.values()), sum(want.values()))


def rouge(summary: list[str], reference: list[str]) -> tuple[float, float, float]:
    """ROUGE-1, -2 and -L F1 of token lists."""
    return (
        _rouge_n(summary, reference, 1),
        _rouge_n(summary, reference, 2),
        _f1(_lcs(summary, reference), len(summary), len(reference)),
    )


def oracle(sentences: list[list[str]], reference: list[str]) -> list[int]:
    """Greedy oracle: add the sentence that most raises R1+R2 F1 until none does."""
    chosen: list[int] = []
    best = 0.0
    while len(chosen) < _ORACLE_MAX:
        pick_, gain = -1, best
        for i in range(len(sentences)):
            if i in chosen:
                continue
            summary = [w for j in sorted([*chosen, i]) for w in sentences[j]]
            r1, r2 = _rouge_n(summary, reference, 1), _rouge_n(summary, reference, 2)
            if r1 + r2 > gain:
                pick_, gain = i, r1 + r2
        if pick_ < 0:
            break
        chosen.append(pick_)
        best = gain
    return chosen


def load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        sys.exit(f"error: {path} not found; pass --train FILE (see the module docstring)")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def article_data(row: dict[str, Any]) -> dict[str, Any] | None:
    """Features, oracle labels and tokens of one article (None when it has no candidate)."""
    try:
        prepared = prepare(row["text"], row.get("title"), "fr", limit=ALGORITHMS["default"].window)
    except SummaryError:
        return None
    featured = features(prepared, "fr")
    sentences = [tokens(c.text) for c in prepared.candidates]
    reference = tokens(row["reference"])
    labels = np.zeros(len(sentences))
    labels[oracle(sentences, reference)] = 1.0
    return {
        "rows": featured.rows,
        "similarity": featured.similarity,
        "labels": labels,
        "sentences": sentences,
        "lengths": [len(c.words) for c in prepared.candidates],
        "reference": reference,
    }


def fit(data: list[dict[str, Any]], penalty: float) -> tuple[Any, Any, Any]:
    """A listwise model fitted by Newton's method: (weights, mean, scale).

    Within each article the scores go through a softmax, and the loss is the cross-entropy
    against the oracle's picks (spread evenly over them): only how an article's sentences
    compare matters, which is all a summary uses. Features are standardised first; the L2
    penalty spares the bias (which a softmax ignores anyway).
    """
    rows = np.vstack([d["rows"] for d in data])
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0
    scale = np.where(scale > 0, scale, 1.0)
    x = (rows - mean) / scale
    sizes = [len(d["rows"]) for d in data]
    starts = np.cumsum([0, *sizes[:-1]])
    group = np.repeat(np.arange(len(data)), sizes)
    target = np.concatenate([d["labels"] / max(d["labels"].sum(), 1.0) for d in data])
    labelled = np.array([d["labels"].sum() > 0 for d in data])[group]
    ridge = penalty * np.eye(x.shape[1])
    ridge[0, 0] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(50):
        z = x @ w
        e = np.exp(z - np.maximum.reduceat(z, starts)[group])
        p = np.where(labelled, e / np.add.reduceat(e, starts)[group], 0.0)
        gradient = x.T @ (p - target) + ridge @ w
        weighted = x * p[:, None]
        means = np.add.reduceat(weighted, starts)
        hessian = x.T @ weighted - means.T @ means + ridge + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w, mean, scale


def select(order: list[int], lengths: list[int], count: int, budget: int | None) -> list[int]:
    """The summarizer's filling rule (`bot.summarize._select`, without the character cap)."""
    chosen: list[int] = []
    used = 0
    for i in order:
        if len(chosen) >= count:
            break
        size = lengths[i]
        if budget is not None and chosen and used + size > budget:
            continue
        chosen.append(i)
        used += size
    return sorted(chosen)


def evaluate(
    data: list[dict[str, Any]],
    scorer: Scorer | None,
    count: int,
    budget: int | None,
    whole: bool = True,
) -> tuple[float, float, float, float]:
    """Mean R1, R2, RL (x100) and summary words on `data` with the given scorer and length;
    `whole`: at the default length, the summary model chooses the summary (as for French)."""
    r1, r2, rl, lengths = [], [], [], []
    for item in data:
        if scorer is None:
            chosen = select(list(range(len(item["sentences"]))), item["lengths"], count, budget)
        else:
            scores = scorer.score(item["rows"])
            order = pick(scores, item["similarity"], count)
            if whole and budget is not None and 2 <= count <= DEFAULT_SENTENCES:
                args = (order, scores, item["similarity"], item["lengths"], count, budget)
                chosen = sorted(choose(*args, scorer))
            else:
                chosen = select(order, item["lengths"], count, budget)
        summary = [w for i in chosen for w in item["sentences"][i]]
        a, b, c = rouge(summary, item["reference"])
        r1.append(a)
        r2.append(b)
        rl.append(c)
        lengths.append(len(summary))
    return (
        100 * statistics.mean(r1),
        100 * statistics.mean(r2),
        100 * statistics.mean(rl),
        statistics.mean(lengths),
    )


def summary_groups(
    data: list[dict[str, Any]], scorers: list[Scorer], count: int, budget: int
) -> list[tuple[Any, Any]]:
    """For each article, the rows of its `summary_options` (scored by its scorer) and each
    option's R1 + R2 + RL."""
    groups = []
    for item, scorer in zip(data, scorers, strict=True):
        scores = scorer.score(item["rows"])
        order = pick(scores, item["similarity"], count)
        options, rows = summary_options(
            order, scores, item["similarity"], item["lengths"], count, budget
        )
        target = [
            sum(rouge([w for i in sorted(o) for w in item["sentences"][i]], item["reference"]))
            for o in options
        ]
        groups.append((rows, np.array(target)))
    return groups


def fit_summary(groups: list[tuple[Any, Any]], penalty: float) -> Any:
    """Least squares of each option's ROUGE on its features, within articles (rows and targets
    centred per article: only how an article's options compare matters), with an L2 penalty."""
    x = np.vstack([rows - rows.mean(axis=0) for rows, _ in groups])
    y = np.concatenate([target - target.mean() for _, target in groups])
    return np.linalg.solve(x.T @ x + penalty * np.eye(x.shape[1]), x.T @ y)


def out_of_fold(data: list[dict[str, Any]], penalty: float, folds: int = 5) -> list[Scorer]:
    """For each article, a scorer fitted without its fold (j % folds): the summary model must
    learn from scores as they are on unseen articles, not from the fit's own."""
    folds = max(1, min(folds, len(data) // 2))
    fitted = []
    for fold in range(folds):
        w, mean, scale = fit([d for j, d in enumerate(data) if j % folds != fold], penalty)
        fitted.append(Scorer(w, mean, scale, None))
    return [fitted[j % folds] for j in range(len(data))]


def best_penalty(
    penalties: str,
    model: Callable[[float], Scorer],
    score: Callable[[Scorer], tuple[float, float, float, float]],
) -> tuple[float, Scorer]:
    """The L2 penalty of the comma-separated *penalties* whose *model* has the best held-out
    R1 + R2 + RL (*score*), and that model; each penalty's row is printed."""
    best: tuple[float, float, Scorer] | None = None
    for penalty in (float(p) for p in penalties.split(",")):
        scorer = model(penalty)
        r = score(scorer)
        print(f"{'L2 ' + format(penalty, 'g'):<16} {r[0]:6.2f} {r[1]:6.2f} {r[2]:6.2f} {r[3]:6.1f}")
        total = r[0] + r[1] + r[2]
        if best is None or total > best[0]:
            best = (total, penalty, scorer)
    assert best is not None
    return best[1], best[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="training JSONL")
    parser.add_argument("--holdout", type=int, default=1000, help="last N articles held out")
    parser.add_argument("--penalties", default="0.1,10,100,1000", help="L2 penalties to try")
    parser.add_argument(
        "--summary-penalties", default="0.1,1,10", help="L2 penalties of the summary model"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for the features")
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--dry-run", action="store_true", help="do not write the weights")
    parser.add_argument("--output", type=Path, default=WEIGHTS, help="weights file to write")
    args = parser.parse_args(argv)

    rows = load(args.train)[: args.limit]
    with ProcessPoolExecutor(args.workers) as pool:
        data = [d for d in pool.map(article_data, rows, chunksize=50) if d is not None]
    fitting, held = data[: -args.holdout], data[-args.holdout :]
    y = np.concatenate([d["labels"] for d in fitting])
    print(
        f"{len(fitting)} articles to fit ({len(y)} candidates, {int(y.sum())} oracle picks), "
        f"{len(held)} held out"
    )
    count, budget = DEFAULT_SENTENCES, DEFAULT_MAX_WORDS
    print(
        f"held-out ROUGE F1 x100 at the default length ({count} sentences, {budget} words), "
        "the budget filled\n"
    )
    print(f"{'model':<16} {'R1':>6} {'R2':>6} {'RL':>6} {'words':>6}")
    r = evaluate(held, None, count, budget)
    print(f"{'lead':<16} {r[0]:6.2f} {r[1]:6.2f} {r[2]:6.2f} {r[3]:6.1f}")

    def sentence_model(penalty: float) -> Scorer:
        return Scorer(*fit(fitting, penalty), None)

    penalty, sentences = best_penalty(
        args.penalties,
        sentence_model,
        lambda scorer: evaluate(held, scorer, count, budget, whole=False),
    )

    print(f"\nthe summary chosen whole (sentence model L2 {penalty:g}), held out\n")
    train_groups = summary_groups(fitting, out_of_fold(fitting, penalty), count, budget)

    def with_summary_model(summary_penalty: float) -> Scorer:
        return Scorer(
            sentences.weights,
            sentences.mean,
            sentences.scale,
            fit_summary(train_groups, summary_penalty),
        )

    summary_penalty, scorer = best_penalty(
        args.summary_penalties,
        with_summary_model,
        lambda scorer: evaluate(held, scorer, count, budget),
    )

    print(f"\nlength trade-off on the held-out articles (summary model L2 {summary_penalty:g})\n")
    print(
        f"{'sentences':>9} {'words':>6} {'whole':>5} {'R1':>6} {'R2':>6} {'RL':>6} "
        f"{'mean words':>10}"
    )
    lengths: list[tuple[int, int | None, bool]] = [
        (1, None, False),
        (2, None, False),
        (3, None, False),
        *((3, b, False) for b in (40, 50, 60, 75)),
        *((3, b, True) for b in (50, 60, 70)),
        (4, 90, False),
    ]
    for n, b, whole in lengths:
        r = evaluate(held, scorer, n, b, whole)
        print(
            f"{n:>9} {b or '-':>6} {'yes' if whole else '-':>5} {r[0]:6.2f} {r[1]:6.2f} "
            f"{r[2]:6.2f} {r[3]:10.1f}"
        )

    print("\nweights (on standardised features), largest first:")
    for name, value in sorted(zip(FEATURES, scorer.weights, strict=True), key=lambda p: -abs(p[1])):
        print(f"  {name:<24} {value:+.3f}")
    print("summary model weights:")
    for name, value in zip(SUMMARY_FEATURES, scorer.summary_weights, strict=True):
        print(f"  {name:<24} {value:+.3f}")
    if args.dry_run:
        return 0
    payload = {
        "about": (
            "Weights of newsbot's default sentence scorer (logistic regression on the "
            "features named below, standardised with mean and scale) and of its summary "
            "model (a linear score of each combination of the best sentences), written by "
            "bench/train_scorer.py. Fitted on OrangeSum (Kamal Eddine et al., 2021, "
            "https://github.com/Tixierae/OrangeSum), licensed CC BY-SA 4.0: "
            "https://creativecommons.org/licenses/by-sa/4.0/"
        ),
        "trained_on": f"{args.train.name}, {len(fitting)} articles",
        "penalty": penalty,
        "features": list(FEATURES),
        "weights": [round(float(v), 6) for v in scorer.weights],
        "mean": [round(float(v), 6) for v in scorer.mean],
        "scale": [round(float(v), 6) for v in scorer.scale],
        "summary_penalty": summary_penalty,
        "summary_features": list(SUMMARY_FEATURES),
        "summary_weights": [round(float(v), 6) for v in scorer.summary_weights],
    }
    args.output.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
