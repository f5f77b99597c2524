"""`newsbot summarize` as the main CLI wires it: add_summarize_arguments on a parser, then run."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from bot.cli.summarize import add_summarize_arguments, run
from bot.summarize import ALGORITHMS, split_sentences

FIXTURES = Path(__file__).parent / "fixtures" / "summarize"
ARTICLE_FR = FIXTURES / "article_fr.txt"
BODY_FR = split_sentences(
    ARTICLE_FR.read_text(encoding="utf-8").split("2025 ", 1)[1].rsplit(" Société", 1)[0], "fr"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot summarize")
    add_summarize_arguments(parser)
    return parser


def _run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(_parser().parse_args(argv), io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def test_help_has_an_example_and_lists_algorithms() -> None:
    text = _parser().format_help()
    assert "newsbot summarize article.txt" in text
    assert "--jsonl" in text
    assert all(name in text for name in ALGORITHMS)


def test_file_prints_one_body_sentence_per_line() -> None:
    code, out, err = _run([str(ARTICLE_FR), "--max-words", "0"])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 3
    assert all(line in BODY_FR for line in lines)


def test_stdin_with_options() -> None:
    text = ARTICLE_FR.read_text(encoding="utf-8")
    argv = ["-", "--sentences", "2", "--algorithm", "lead", "--language", "fr", "--max-words", "0"]
    code, out, _ = _run(argv, text)
    assert code == 0
    assert out.splitlines() == BODY_FR[:2]


def test_max_words_keeps_whole_sentences_within_the_budget() -> None:
    text = ARTICLE_FR.read_text(encoding="utf-8")
    code, out, _ = _run(["-", "--algorithm", "lead", "--language", "fr", "--max-words", "30"], text)
    assert code == 0
    lines = out.splitlines()
    # lead ranks in document order: the first sentence, then the next ones that still fit
    assert lines[0] == BODY_FR[0] and all(line in BODY_FR for line in lines)
    assert len(lines) < 3 and len(" ".join(lines).split()) <= 32  # 30 words + numbers


@pytest.mark.parametrize("ratio", ["0.3", "30%", " 30 % "])
def test_ratio_accepts_fraction_or_percent(ratio: str) -> None:
    code, out, _ = _run([str(ARTICLE_FR), "--ratio", ratio])
    assert code == 0
    assert len(out.splitlines()) == 3  # ceil(0.3 * 7 distinct body sentences)


@pytest.mark.parametrize(
    "argv",
    [
        ["x.txt", "--ratio", "10"],
        ["x.txt", "--ratio", "abc"],
        ["x.txt", "--ratio", "0"],
        ["x.txt", "--sentences", "0"],
        ["x.txt", "--algorithm", "nope"],
        ["x.txt", "--ratio", "0.1", "--sentences", "2"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_unknown_algorithm_message_lists_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["x.txt", "--algorithm", "nope"])
    err = capsys.readouterr().err
    assert all(name in err for name in ALGORITHMS)


def test_missing_file_and_missing_input(tmp_path: Path) -> None:
    code, out, err = _run([str(tmp_path / "absent.txt")])
    assert (code, out) == (1, "")
    assert "absent.txt" in err
    code, _, err = _run([])
    assert code == 2
    assert "FILE" in err


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 40)
    code, out, err = _run([str(path)])
    assert (code, out) == (1, "")
    assert "binary" in err


def test_latin1_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    sentence = "Le ministère de l'Économie a publié les chiffres du déficit mercredi."
    path.write_bytes(sentence.encode("cp1252"))
    code, out, _ = _run([str(path)])
    assert code == 0
    assert out.strip() == sentence


def test_jsonl_summarizes_each_line_and_reports_bad_ones(tmp_path: Path) -> None:
    article = ARTICLE_FR.read_text(encoding="utf-8")
    lines = [
        json.dumps({"id": "a1", "text": article}),
        "{not json",
        json.dumps({"id": 7, "text": "123 456 789."}),
        json.dumps({"id": "a2", "text": " ".join(BODY_FR), "title": "Tramway", "language": "fr"}),
        "",
        json.dumps({"id": "a3"}),
        json.dumps(["a list"]),
        json.dumps({"id": "a4", "text": " ".join(BODY_FR), "language": "xx"}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out, err = _run(["--jsonl", str(path), "--sentences", "2", "--max-words", "0"])

    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == ["a1", None, 7, "a2", "a3", None, "a4"]
    assert len(records[0]["summary"]) == 2
    assert all(s in BODY_FR for s in records[0]["summary"])
    assert "invalid JSON" in records[1]["error"] and "line 2" in records[1]["error"]
    assert "no words" in records[2]["error"]
    assert len(records[3]["summary"]) == 2
    assert "'text'" in records[4]["error"]
    assert "JSON object" in records[5]["error"]
    assert "unsupported language" in records[6]["error"]
    assert code == 1
    assert "5 line(s)" in err


def test_jsonl_from_stdin_all_good_exits_zero() -> None:
    body = " ".join(BODY_FR)
    stdin = "\n".join(json.dumps({"id": i, "text": body}) for i in range(3))
    code, out, err = _run(["--jsonl", "-", "--algorithm", "lexrank"], stdin)
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in records] == [0, 1, 2]
    assert all(len(r["summary"]) == 3 for r in records)


def test_jsonl_and_file_together_is_a_usage_error() -> None:
    code, _, err = _run([str(ARTICLE_FR), "--jsonl", "x.jsonl"])
    assert code == 2
    assert "not both" in err


def test_an_epilog_set_by_the_main_cli_is_kept() -> None:
    parser = argparse.ArgumentParser(
        prog="newsbot summarize", epilog="example:\n  newsbot summarize a.txt"
    )
    add_summarize_arguments(parser)
    text = parser.format_help()
    assert "example:\n  newsbot summarize a.txt" in text
    assert "newsbot summarize --jsonl articles.jsonl" in text
