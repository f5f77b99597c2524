"""`newsbot summarize`: summaries from the command line, for one text or a JSONL batch.

`cmd_summarize` hands the process's streams to `run`; tests call `run` with their own.

Exit status: 0 on success, 1 when a text could not be summarized (in a batch: when at least one
line failed, after every line was processed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.cli._common import subcommand
from bot.clock import Clock
from bot.config import Config
from bot.errors import SummaryError
from bot.summarize import (
    ALGORITHMS,
    AUTO,
    DEFAULT_ALGORITHM,
    DEFAULT_SENTENCES,
    algorithm_descriptions,
    summarize,
    supported_languages,
)

DESCRIPTION = """\
Print an extractive summary of a text file (or of standard input with "-"), one sentence per
line, or summarize many articles at once from a JSONL file.

A file saved from a web page may start with its title and a byline ("Author, month day,
year"); they are recognised and never end up in the summary. The language is detected unless
--language is given."""

EPILOG = f"""\
examples:
  newsbot summarize article.txt
  newsbot summarize --sentences 5 --algorithm lexrank article.txt
  curl -s https://example.org/a.txt | newsbot summarize --ratio 10% -
  newsbot summarize --jsonl articles.jsonl > summaries.jsonl

JSONL input has one object per line: {{"id": ..., "text": "...", "title": "...", "language":
"fr"}} (title and language optional). Each line gives one output line, {{"id": ...,
"summary": ["...", ...]}} or {{"id": ..., "error": "..."}}; a bad line does not stop the rest.

algorithms (--algorithm, default: {DEFAULT_ALGORITHM}):
{chr(10).join(f"  {name:<10} {doc}" for name, doc in algorithm_descriptions())}

languages (--language): {", ".join(supported_languages())}"""


def _ratio(value: str) -> float:
    """Parse "0.1" or "10%" into 0.1; argparse turns the ValueError into a usage error."""
    text = value.strip()
    try:
        ratio = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a ratio: {value!r} (use 0.1 or 10%)") from None
    if not 0 < ratio <= 1:
        raise argparse.ArgumentTypeError(f"ratio must be in (0, 1] or (0%, 100%]: {value!r}")
    return ratio


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value!r}")
    return count


def _words(value: str) -> int | str | None:
    """--max-words: a whole number of words, 0 for no cap, "auto" for the language's budget."""
    if value.strip().lower() == AUTO:
        return AUTO
    try:
        words = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if words < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no cap) or more: {value!r}")
    return words or None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`summarize`."""
    parser = subcommand(
        subparsers,
        "summarize",
        cmd_summarize,
        "Summarize a text file, stdin, or a JSON Lines batch, fully offline.",
        "newsbot summarize --sentences 3 article.txt",
    )
    add_summarize_arguments(parser)


async def cmd_summarize(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Summarize a file, stdin, or a JSON Lines batch."""
    return run(args, sys.stdin, sys.stdout, sys.stderr)


def add_summarize_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `summarize` options to `parser` and give it a description with examples.

    A description or epilog the caller already set is kept; ours is appended to the epilog.
    """
    parser.description = parser.description or DESCRIPTION
    parser.epilog = f"{parser.epilog}\n\n{EPILOG}" if parser.epilog else EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "file", nargs="?", metavar="FILE", help='text file to summarize, or "-" for stdin'
    )
    parser.add_argument(
        "--jsonl",
        metavar="IN.jsonl",
        help='summarize every article of a JSONL file ("-" for stdin); one JSON line out each',
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--sentences",
        "-n",
        type=_count,
        default=DEFAULT_SENTENCES,
        metavar="N",
        help=f"at most N sentences (default: {DEFAULT_SENTENCES})",
    )
    size.add_argument(
        "--ratio", type=_ratio, metavar="R", help="share of the sentences instead: 0.1 or 10%%"
    )
    parser.add_argument(
        "--algorithm",
        "-a",
        default=DEFAULT_ALGORITHM,
        choices=ALGORITHMS,
        metavar="NAME",
        help=f"one of {', '.join(ALGORITHMS)} (default: {DEFAULT_ALGORITHM})",
    )
    parser.add_argument(
        "--language", "-l", metavar="LANG", help="language code such as fr or en (default: detect)"
    )
    parser.add_argument(
        "--max-words",
        type=_words,
        default=AUTO,
        metavar="W",
        help="keep whole sentences, best first, within W words; 0 for no cap (default: auto, "
        "20 words a sentence, 27 in English)",
    )
    parser.add_argument(
        "--title",
        help="the article's title: kept out of the summary, and it helps pick the sentences",
    )
    parser.add_argument(
        "--max-chars",
        type=_count,
        default=3500,
        metavar="N",
        help="longest summary in characters (default: 3500)",
    )


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Execute `newsbot summarize` with parsed `args`; returns the exit status."""
    if args.jsonl and args.file:
        print("error: give either FILE or --jsonl, not both", file=stderr)
        return 2
    if args.jsonl:
        return _run_jsonl(args, stdin, stdout, stderr)
    if not args.file:
        print('error: give a FILE to summarize, "-" for stdin, or --jsonl IN.jsonl', file=stderr)
        return 2
    try:
        text = stdin.read() if args.file == "-" else _read_text(Path(args.file))
        summary = summarize(
            text,
            title=args.title,
            language=args.language,
            algorithm=args.algorithm,
            sentences=args.sentences,
            ratio=args.ratio,
            max_words=args.max_words,
            max_chars=args.max_chars,
        )
    except (OSError, SummaryError) as error:
        print(f"error: {args.file}: {_describe(error)}", file=stderr)
        return 1
    for sentence in summary:
        print(sentence, file=stdout)
    return 0


def _read_text(path: Path) -> str:
    """Read a text file as UTF-8, else Windows-1252; binary data is refused, not decoded."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise SummaryError("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _describe(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _run_jsonl(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    failures = 0
    with contextlib.ExitStack() as stack:
        lines: Iterable[str] = stdin
        if args.jsonl != "-":
            try:
                # Undecodable bytes become U+FFFD: that line fails on its own, the rest go on.
                lines = stack.enter_context(open(args.jsonl, encoding="utf-8", errors="replace"))
            except OSError as error:
                print(f"error: {args.jsonl}: {_describe(error)}", file=stderr)
                return 1
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = _summarize_line(line, number, args)
            failures += "error" in record
            stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    if failures:
        print(f"{args.jsonl}: {failures} line(s) could not be summarized", file=stderr)
    return 1 if failures else 0


def _summarize_line(line: str, number: int, args: argparse.Namespace) -> dict[str, Any]:
    """One output record for one input line; every failure becomes an "error" record."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        return {"id": None, "error": f"line {number}: invalid JSON: {error.msg}"}
    if not isinstance(item, dict):
        return {"id": None, "error": f"line {number}: expected a JSON object"}
    ident = item.get("id")
    text, title, language = item.get("text"), item.get("title"), item.get("language")
    if not isinstance(text, str):
        return {"id": ident, "error": f"line {number}: missing or non-string 'text'"}
    if title is not None and not isinstance(title, str):
        return {"id": ident, "error": f"line {number}: 'title' must be a string"}
    if language is not None and not isinstance(language, str):
        return {"id": ident, "error": f"line {number}: 'language' must be a string"}
    try:
        summary = summarize(
            text,
            title=title,
            language=language or args.language,
            algorithm=args.algorithm,
            sentences=args.sentences,
            ratio=args.ratio,
            max_words=args.max_words,
            max_chars=args.max_chars,
        )
    except SummaryError as error:
        return {"id": ident, "error": f"line {number}: {error}"}
    return {"id": ident, "summary": summary}
