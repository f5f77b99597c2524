"""Property: hostile JSON Lines mixed with good ones, on both backends (issue 13).

Generated bad input (random bytes, lone surrogates, control and bidi characters, huge fields,
odd numbers and types) is written between known good lines. Whatever it is, every good line is
stored, every other line is either stored or reported as `FILE:LINE: reason` (one line of
text), and no exception escapes the import.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.importer import import_files
from bot.store import SqlStore

_counter = itertools.count()

# Characters that break naive code: C0/C1 controls, bidi overrides and isolates, joiners,
# separators, BOM, non-characters, and lone surrogates (written as JSON escapes).
NASTY = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\x9f\u00a0\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\ufeff\ufffe\uffff"
    "\ud800\udbff\udc00\udfff"
)
nasty_text = st.text(
    alphabet=st.one_of(st.sampled_from(NASTY), st.characters(codec=None)), max_size=40
)
odd_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    nasty_text,
)
huge = st.integers(min_value=150, max_value=6000)
FIELDS = ("title", "text", "url", "guid", "author", "published", "category", "language", "section")


@st.composite
def hostile_record(draw: st.DrawFn) -> bytes:
    """A JSON object that looks like an article, with some fields made hostile."""
    record: dict[str, object] = {"title": draw(nasty_text), "text": draw(nasty_text)}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        kind = draw(st.sampled_from(["odd", "huge", "nasty"]))
        if kind == "odd":
            record[name] = draw(odd_value)
        elif kind == "huge":
            size = draw(huge)
            record[name] = {
                "url": "https://news.test/" + "é" * size,
                "language": "en-" + "-".join(["abcdefgh"] * (size // 9)),
            }.get(name, "Ω" * size)
        else:
            record[name] = draw(nasty_text)
    text = json.dumps(record, ensure_ascii=draw(st.booleans()), allow_nan=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate with ensure_ascii=False: write it escaped
        return json.dumps(record, ensure_ascii=True, allow_nan=True).encode()


hostile_line = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")),
    hostile_record(),
    st.sampled_from(
        [
            b'{"title": 1e400, "text": "x"}',
            b'{"title": NaN, "text": "x"}',
            b'{"title": "t", "text": -Infinity}',
            b'{"title": "t", "text": "x", "published": 99999999999999999999}',
            b'{"title": "t", "text": "x", "published": "+999999-01-01"}',
            b'{"title": "t", "text": "x", "url": "http://[::1"}',
            b"[1, 2, 3]",
            b'"just a string"',
            b"\xef\xbb\xbf{}",
            b"{" * 5000,
        ]
    ),
)


def good_line(n: int) -> bytes:
    return json.dumps(
        {
            "title": f"Bon article {n}",
            "text": f"Un texte correct numéro {n}. Il se termine bien.",
            "category": "Correct",
        }
    ).encode()


def _blank(line: bytes, lineno: int) -> bool:
    """Whether the importer skips *line* as blank (decoded, as it does)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not (text.removeprefix("\ufeff") if lineno == 1 else text).strip()


PROBLEM = re.compile(r"(?P<file>.+):(?P<line>\d+): [^\n]+")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(st.tuples(st.booleans(), hostile_line), min_size=1, max_size=12),
    in_process=st.booleans(),
)
async def test_hostile_lines_never_cost_a_good_one(
    store: SqlStore, tmp_path: Path, lines: list[tuple[bool, bytes]], in_process: bool
) -> None:
    example = next(_counter)
    path = tmp_path / f"hostile-{example}.jsonl"
    written: list[bytes] = []
    good: dict[int, str] = {}  # line number -> title
    for n, (put_good, hostile) in enumerate(lines):
        if put_good:
            number = example * 100 + n
            written.append(good_line(number))
            good[len(written)] = f"Bon article {number}"
        written.append(hostile)
    path.write_bytes(b"\n".join(written) + b"\n")

    problems: list[str] = []
    report = await import_files(
        store, [path], problems.append, process_threshold=0 if in_process else 10**9
    )

    if report.unreadable_files:  # a file whose start holds no record at all ("[", binary)
        assert not good and len(problems) == 1 and ":0: " in problems[0], problems
        return
    reported_lines: set[int] = set()
    for problem in problems:
        match = PROBLEM.fullmatch(problem)
        assert match is not None and match["file"] == str(path), problem
        reported_lines.add(int(match["line"]))
    assert not reported_lines & set(good), problems
    # Every non-blank line was stored, found a duplicate, or rejected (notes are extra).
    non_blank = sum(1 for n, line in enumerate(written, 1) if not _blank(line, n))
    assert report.imported + report.duplicates + report.rejected == non_blank, problems
    stored = {
        article.title
        for article in await store.latest(len(written) + 100)
        if article.title.startswith("Bon article ")
    }
    assert set(good.values()) <= stored
