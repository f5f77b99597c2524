"""The learned `default` scorer: its shipped weights, what it picks, its length budget, and the
training script's determinism. Nothing here reads `../shared`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from bot.summarize import (
    ALGORITHMS,
    DEFAULT_MAX_WORDS,
    DEFAULT_SENTENCES,
    summarize,
    word_budget,
)
from bot.summarize._learned import FEATURES, WEIGHTS_FILE, shipped_scorer
from bot.summarize._tokenize import words

ROOT = Path(__file__).resolve().parent.parent
SEED = resources.files("bot.samples").joinpath("seed-article-fr.txt").read_text(encoding="utf-8")

BODY = [
    "La mairie a présenté lundi son budget pour la nouvelle année devant le conseil municipal.",
    "Les élus de l'opposition ont critiqué la hausse des dépenses de fonctionnement prévue.",
    "Le maire a défendu un budget prudent malgré la baisse des dotations de l'État.",
    "Les associations sportives recevront des subventions stables par rapport à l'an dernier.",
    "Le débat a duré plus de trois heures dans une salle comble.",
    "Par ailleurs, la piscine municipale fermera tout l'été pour des travaux de rénovation "
    "énergétique.",
    "Le vote définitif du budget aura lieu le mois prochain.",
]
POOL = BODY[5]


def test_shipped_weights_load_offline_from_the_package() -> None:
    """In a fresh interpreter whose sockets all fail and that cannot see ../shared."""
    script = textwrap.dedent(
        """
        import socket, sys
        def refuse(*args, **kwargs):
            raise OSError("no network in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from bot.summarize import summarize
        from bot.summarize._learned import shipped_scorer, FEATURES
        assert len(shipped_scorer().weights) == len(FEATURES)
        print(len(summarize("Une phrase assez longue pour un résumé. " * 3, language="fr")))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd="/", env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_weights_file_is_small_credited_and_names_the_features() -> None:
    path = resources.files("bot.summarize").joinpath(WEIGHTS_FILE)
    raw = path.read_bytes()
    assert len(raw) <= 1_000_000
    data = json.loads(raw)
    assert tuple(data["features"]) == FEATURES
    assert "OrangeSum" in data["about"] and "CC BY-SA 4.0" in data["about"]
    assert len(shipped_scorer().weights) == len(FEATURES)
    # the features that carry the model: being early and looking like the headline
    weight = dict(zip(FEATURES, data["weights"], strict=True))
    assert weight["position_inverse"] > 0 and weight["title_cosine_relative"] > 0


def test_seed_article_summary_is_distinct_body_sentences() -> None:
    summary = summarize(SEED)
    assert 1 <= len(summary) <= DEFAULT_SENTENCES
    assert len(set(summary)) == len(summary)
    body = SEED.split("2025", 1)[1]
    for sentence in summary:
        assert sentence in body
        assert "Louis Joubert" not in sentence and "Poutine et le Kirghizstan" not in sentence
        assert not sentence.endswith("Politique")
    assert not any(a in b for a in summary for b in summary if a is not b)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_summary_never_repeats_a_sentence(algorithm: str) -> None:
    """A page that repeats its paragraphs (as scraped pages do) still gives distinct sentences."""
    text = "\n\n".join([" ".join(BODY[:4]), " ".join(BODY[:4]), " ".join(BODY[4:]), BODY[2]])
    summary = summarize(text, algorithm=algorithm, sentences=10, max_words=None, language="fr")
    assert len(summary) == len(set(summary)) == len(BODY)


def test_the_title_brings_in_the_sentence_it_announces() -> None:
    text = " ".join(BODY)
    without = summarize(text, sentences=3, max_words=None, language="fr")
    with_title = summarize(
        text,
        title="La piscine municipale fermée tout l'été pour des travaux",
        sentences=3,
        max_words=None,
        language="fr",
    )
    assert POOL not in without
    assert POOL in with_title


def test_the_word_budget_keeps_whole_sentences() -> None:
    text = " ".join(BODY)
    for sentences in (1, 2, 3, 5):
        summary = summarize(text, sentences=sentences, language="fr")
        assert 1 <= len(summary) <= sentences
        assert all(s in BODY for s in summary)
        if len(summary) > 1:
            assert sum(len(words(s, "fr")) for s in summary) <= word_budget(sentences, "fr")
    unlimited = summarize(text, sentences=5, max_words=None, language="fr")
    tight = summarize(text, sentences=5, max_words=25, language="fr")
    assert len(unlimited) == 5 and len(tight) < 5


def test_default_budget_per_language() -> None:
    assert word_budget(DEFAULT_SENTENCES, "fr") == DEFAULT_MAX_WORDS == 60
    assert word_budget(3, "en") > word_budget(3, "fr")
    assert word_budget(5) == 100


def test_training_is_deterministic(tmp_path: Path) -> None:
    """Same data -> the same weights file, byte for byte."""
    rows = []
    for number in range(30):
        order = BODY[number % 7 :] + BODY[: number % 7]
        rows.append(
            {
                "title": f"Article {number} : {order[2][:40]}",
                "text": " ".join(order),
                "reference": order[2] + " " + order[number % 3],
            }
        )
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    outputs = []
    for attempt in (1, 2):
        out = tmp_path / f"weights{attempt}.json"
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "train_scorer.py"),
                "--train",
                str(data),
                "--holdout",
                "10",
                "--workers",
                "1",
                "--penalties",
                "1,10",
                "--output",
                str(out),
            ],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert tuple(json.loads(outputs[0])["features"]) == FEATURES


def test_the_default_length_chooses_a_whole_summary_within_the_budget() -> None:
    import numpy as np

    from bot.summarize._learned import SUMMARY_FEATURES, choose, summary_options

    scores = np.array([2.0, 1.5, 0.9, 0.5, 0.1, -3.0])
    similarity = np.zeros((6, 6))
    similarity[1, 2] = similarity[2, 1] = 0.4
    lengths = [70, 20, 25, 30, 10, 5]
    order = [0, 1, 2, 3, 4, 5]
    options, rows = summary_options(order, scores, similarity, lengths, 3, 60)
    assert rows.shape == (len(options), len(SUMMARY_FEATURES))
    assert (0,) in options  # one sentence always fits, however long
    assert all(5 not in o for o in options)  # only the first few picks are combined
    assert all(len(o) <= 3 for o in options)
    assert all(sum(lengths[i] for i in o) <= 60 for o in options if len(o) > 1)
    row = dict(zip(SUMMARY_FEATURES, rows[options.index((1, 2))], strict=True))
    assert row["gap_sum"] == pytest.approx(-1.6) and row["similarity"] == 0.4
    assert row["sentences_2"] == 1
    assert row["words"] == 45 / 60 and row["has_best"] == 0
    chosen = choose(order, scores, similarity, lengths, 3, 60, shipped_scorer())
    assert chosen in options
    assert choose(order, scores, similarity, lengths, 1, 60, shipped_scorer()) in [
        (i,) for i in order[:5]
    ]


def test_english_fills_its_budget_and_french_may_stop_early() -> None:
    from bot.summarize._learned import FILLS_BUDGET, Ranking

    assert "en" in FILLS_BUDGET and "fr" not in FILLS_BUDGET
    text = " ".join(BODY)
    for sentences in (2, 3):
        summary = summarize(text, sentences=sentences, language="fr")
        assert 1 <= len(summary) <= sentences
    filled = Ranking([2, 0, 1], fills=True)
    assert filled.within(60, 3) == [2, 0, 1]


def test_a_longer_length_gives_a_longer_summary() -> None:
    """What the per-chat length setting relies on: 1 < default <= 5 in words."""
    text = " ".join(BODY)
    lengths = [
        sum(len(words(s, "fr")) for s in summarize(text, sentences=n, language="fr"))
        for n in (1, DEFAULT_SENTENCES, 5)
    ]
    assert lengths[0] < lengths[2] and lengths[0] <= lengths[1] <= lengths[2]
    assert len(summarize(text, sentences=5, language="fr")) > 2
