"""Parsing of import files (JSON Lines and plain-text pages) and of export records.

Fixtures live in tests/fixtures/import/; files that are only bytes (binary, Latin-1, empty) are
written to tmp_path by the tests themselves.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.errors import ImportFormatError
from bot.ingest.files import (
    article_to_record,
    iter_import_file,
    parse_jsonl_line,
    parse_text_page,
)
from bot.models import Article, NewArticle

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def only_article(path: Path) -> NewArticle:
    items = list(iter_import_file(path))
    assert len(items) == 1
    item = items[0]
    assert not isinstance(item, ImportFormatError), item
    assert item[0] == 1
    return item[1]


def file_error(path: Path) -> ImportFormatError:
    # Raised by the call itself, before any iteration: the CLI relies on it to count the file as
    # unreadable instead of crashing halfway through an import.
    with pytest.raises(ImportFormatError) as info:
        iter_import_file(path)
    assert info.value.source == str(path)
    assert info.value.line == 0
    return info.value


# ------------------------------------------------------------------------------------------
# Plain-text pages


def test_one_line_french_page_like_the_seed() -> None:
    article = only_article(FIXTURES / "page-fr-oneline.txt")
    assert article.title == "Bretagne : les ports de pêche face à la flambée du gazole"
    assert article.author == "Marie de La Tour"  # particles inside the name
    assert article.published == datetime(2025, 3, 1, tzinfo=UTC)  # "1er mars 2025"
    assert article.category == "Économie"
    assert article.text.startswith("Les patrons pêcheurs de Lorient")
    # The repeated two sentences at the end are gone; the short "Rien n’a changé." that
    # recurs on its own stays twice.
    assert article.text.endswith("avant la fin du mois.")
    assert article.text.count("Le prix du gazole a augmenté") == 1
    assert article.text.count("explique un armateur du port.") == 1
    assert article.text.count("Rien n’a changé.") == 2
    assert "\n" not in article.text
    assert (article.url, article.guid, article.language) == (None, None, None)


def test_one_line_english_page() -> None:
    article = only_article(FIXTURES / "page-en.txt")
    # The title ends with a proper noun; the author is only the two names before the comma.
    assert article.title == "Storm Ciarán batters Cornwall"
    assert article.author == "Mark O’Neill"
    assert article.published == datetime(2024, 11, 2, tzinfo=UTC)  # "NOVEMBER 2 2024"
    assert article.category == "Weather"
    assert article.text == (
        "Winds of up to 160 km/h swept across the south-west of England overnight, cutting "
        "power to thousands of homes. Rail services between Exeter and Penzance were suspended "
        "until at least Sunday morning. The Met Office kept its amber warning in place for the "
        "whole coast."
    )


def test_multi_line_page() -> None:
    article = only_article(FIXTURES / "page-multiline.txt")
    assert article.title == "Lyon : un incendie ravage un entrepôt à Vénissieux"
    assert article.author == "Jean-Luc Martin"  # "Par" is not part of the name
    assert article.published == datetime(2025, 11, 26, tzinfo=UTC)
    assert article.category == "Fait-divers"
    assert article.text == (
        "Un incendie s’est déclaré mardi soir dans un entrepôt de la zone industrielle de "
        "Vénissieux. Une soixantaine de pompiers ont été mobilisés pendant toute la nuit.\n\n"
        "Aucun blessé n’est à déplorer, selon la préfecture du Rhône. Une enquête a été "
        "ouverte.\n\n"
        "La circulation reste perturbée sur la rocade est ce mercredi matin."
    )


def test_page_without_byline_falls_back_to_first_line() -> None:
    article = only_article(FIXTURES / "page-no-byline.txt")
    assert article.title == "Les marchés européens ouvrent en hausse"
    assert (article.author, article.published, article.category) == (None, None, None)
    assert article.text == (
        "Les principales places boursières européennes ont ouvert en hausse lundi, portées par "
        "les valeurs bancaires.\n\nLe CAC 40 gagnait 0,8 % en début de séance."
    )


def test_page_without_body_is_a_record_error() -> None:
    path = FIXTURES / "page-no-body.txt"
    [item] = list(iter_import_file(path))
    assert isinstance(item, ImportFormatError)
    assert (item.source, item.line) == (str(path), 1)
    assert "no article body" in item.reason


def test_one_line_page_without_byline_uses_first_sentence() -> None:
    article = parse_text_page("Un fait divers à Nantes. Les secours sont intervenus vers midi.")
    assert article.title == "Un fait divers à Nantes."
    assert article.text == "Les secours sont intervenus vers midi."
    assert article.author is None


@pytest.mark.parametrize(
    ("byline", "author", "day"),
    [
        ("Louis Joubert, novembre 26, 2025", "Louis Joubert", (2025, 11, 26)),
        ("Louis Joubert, 26 NOVEMBRE 2025", "Louis Joubert", (2025, 11, 26)),
        ("Louis Joubert, Novembre 26 2025", "Louis Joubert", (2025, 11, 26)),
        ("Anne Roy, 1er août 2024", "Anne Roy", (2024, 8, 1)),
        ("Anne Roy, mercredi 3 janv. 2024", "Anne Roy", (2024, 1, 3)),
        ("par Jean d’Ormesson, 5 décembre 2017", "Jean d’Ormesson", (2017, 12, 5)),
        ("Ludwig van Beethoven, Dec 1st, 2023", "Ludwig van Beethoven", (2023, 12, 1)),
        ("J. K. Rowling, March 3 2020", "J. K. Rowling", (2020, 3, 3)),
        ("By Mark Twain, 4 July 1876", "Mark Twain", (1876, 7, 4)),
    ],
)
def test_byline_variants_in_one_line_form(
    byline: str, author: str, day: tuple[int, int, int]
) -> None:
    article = parse_text_page(
        f"Le titre de l’article {byline} Le corps de l’article est ici. Il a deux phrases."
    )
    assert article.title == "Le titre de l’article"
    assert article.author == author
    assert article.published == datetime(*day, tzinfo=UTC)
    assert article.text == "Le corps de l’article est ici. Il a deux phrases."


def test_date_inside_the_title_is_not_the_byline() -> None:
    article = parse_text_page(
        "Le 1er mai 2025 : cortèges dans toute la France Paul Durand, 2 mai 2025 "
        "Des milliers de personnes ont défilé. Sport"
    )
    assert article.title == "Le 1er mai 2025 : cortèges dans toute la France"
    assert article.author == "Paul Durand"
    assert article.published == datetime(2025, 5, 2, tzinfo=UTC)
    assert article.category == "Sport"
    assert article.text == "Des milliers de personnes ont défilé."


def test_byline_without_author_and_impossible_dates() -> None:
    dated = parse_text_page("Un titre, 26 novembre 2025 Le corps. High-tech")
    assert (dated.title, dated.author, dated.category) == ("Un titre", None, "High-tech")
    assert dated.published == datetime(2025, 11, 26, tzinfo=UTC)
    # 31 February is not a date: the page is rejected with the reason, rather than the title
    # swallowing the byline and the first sentence (issue 13).
    with pytest.raises(ImportFormatError, match="byline date '31 février 2025' is not a real"):
        parse_text_page("Titre Jean Roy, 31 février 2025 Corps. Suite du corps.")


def test_last_word_is_a_category_only_after_a_sentence_end() -> None:
    article = parse_text_page(
        "Titre\nAnne Roy, 3 mai 2024\nIl a rencontré le ministre de la Culture"
    )
    assert article.category is None
    assert article.text == "Il a rencontré le ministre de la Culture"


def test_text_page_normalizes_whitespace_and_controls() -> None:
    article = parse_text_page(
        "Titre\x07  du\tjour\r\nAnne Roy, 3 mai 2024\r\nUn\u00a0 corps\x00 ici."
    )
    assert article.title == "Titre du jour"
    assert article.text == "Un corps ici."


def test_empty_page_text_is_rejected() -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_text_page(" \n\t\n", "page.txt")
    assert (info.value.source, info.value.line) == ("page.txt", 1)


# ------------------------------------------------------------------------------------------
# Files that cannot be read at all


def test_empty_and_blank_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert file_error(empty).reason == "empty file"
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n   \n\t\n")
    assert file_error(blank).reason == "empty file"


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    assert file_error(path).reason == "binary file, not UTF-8 text"


def test_latin1_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Un titre\nLe café est fermé.".encode("latin-1"))
    assert file_error(path).reason.startswith("not UTF-8 text")


def test_bad_byte_late_in_a_text_page(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_bytes("Titre\nUn corps très long.\n".encode() * 1000 + b"Caf\xe9.\n")
    assert file_error(path).reason.startswith("not UTF-8 text (invalid byte at offset")


def test_character_cut_by_the_sniffed_chunk_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    body = "é" * 6000  # 12000 bytes on one line: the 8192-byte sniff cuts an "é" in two
    path.write_text(json.dumps({"title": "T", "text": body}, ensure_ascii=False) + "\n")
    [item] = list(iter_import_file(path))
    assert isinstance(item, tuple) and item[1].text == body


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert file_error(tmp_path / "nope.jsonl").reason == "no such file"
    assert file_error(tmp_path).reason == "is a directory, not a file"


def test_json_array_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "articles.json"
    path.write_text('[{"title": "T", "text": "Corps."}]\n')
    assert "JSON array" in file_error(path).reason


# ------------------------------------------------------------------------------------------
# JSON Lines


def test_mixed_jsonl_reports_each_bad_line_and_keeps_the_good_ones() -> None:
    path = FIXTURES / "mixed.jsonl"
    items = list(iter_import_file(path))
    errors = [(e.line, e.reason) for e in items if isinstance(e, ImportFormatError)]
    assert errors == [
        (3, "invalid JSON: Expecting value (column 1)"),
        (4, "expected a JSON object, got an array"),
        (5, 'missing "title"'),
        (6, '"text" is empty'),
        (7, '"title": expected a string, got a number'),
        (8, "\"published\": not an ISO 8601 date: 'hier'"),
        (9, "\"url\": not an http(s) URL: 'ftp://example.org/x'"),
        (12, '"author": expected a string, got an array'),
        (13, '"language": not a language code like "fr" or "en-GB": \'français\''),
        (15, "expected a JSON object, got a string"),
    ]
    assert {e.source for e in items if isinstance(e, ImportFormatError)} == {str(path)}
    good = {line: article for line, article in (i for i in items if isinstance(i, tuple))}
    assert sorted(good) == [1, 10, 14]  # blank lines 2 and 11 are skipped silently

    assert good[1] == NewArticle(
        title="Venise : un paquebot percute un quai",
        text="Le navire a perdu le contrôle à son arrivée.\n\nQuatre personnes ont été blessées.",
        url="https://example.org/venise",
        guid="venise-1",
        author="Anne Martin",
        published=datetime(2019, 6, 2, 10, 30, tzinfo=UTC),  # 12:30+02:00
        category="Monde",
        language="fr",
    )
    assert good[1].published is not None and good[1].published.tzinfo is UTC
    assert good[10].published == datetime(2025, 11, 26, tzinfo=UTC)  # date alone = UTC midnight
    # Whitespace cleaned, repeated paragraph dropped, "" and null optional fields are None,
    # unknown keys ignored.
    assert good[14].title == "Répétition dans le corps"
    assert good[14].text == (
        "Le conseil municipal a voté le budget annuel mardi soir à l’unanimité. Les travaux "
        "commenceront au printemps.\n\nFin de séance."
    )
    assert (good[14].url, good[14].author) == (None, None)


def test_a_bad_utf8_line_far_into_a_file_spoils_only_that_line(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    good = json.dumps({"title": "Titre", "text": "Un corps de texte assez long. " * 5})
    path.write_bytes((good + "\n").encode() * 200 + b'{"title": "caf\xe9"}\n' + good.encode())
    items = list(iter_import_file(path))
    assert len(items) == 202
    bad = items[200]
    assert isinstance(bad, ImportFormatError)
    assert (bad.line, bad.reason) == (201, "not valid UTF-8 text (invalid byte at column 15)")
    assert isinstance(items[201], tuple) and items[201][0] == 202


def test_curly_brace_content_is_jsonl_whatever_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text('\ufeff\n{"title": "T", "text": "Corps.", "id": "orangesum-1"}\r\n')
    [item] = list(iter_import_file(path))
    assert isinstance(item, tuple)
    line, article = item
    assert line == 2
    assert (article.title, article.text) == ("T", "Corps.")


BASE = {"title": "T", "text": "Corps."}
ISO = "not an ISO 8601 date"
HTTP = "not an http(s) URL"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "T"}, 'missing "text"'),
        ({"title": None, "text": "x"}, 'missing "title"'),
        ({**BASE, "published": 1700000000}, '"published": expected a string, got a number'),
        ({**BASE, "published": "2025-13-01"}, f"\"published\": {ISO}: '2025-13-01'"),
        ({**BASE, "url": "example.org/a"}, f"\"url\": {HTTP}: 'example.org/a'"),
        ({**BASE, "url": "https://exa mple.org"}, f"\"url\": {HTTP}: 'https://exa mple.org'"),
        ({**BASE, "category": True}, '"category": expected a string, got a boolean'),
        ({**BASE, "guid": {"a": 1}}, '"guid": expected a string, got an object'),
        (None, "expected a JSON object, got null"),
    ],
)
def test_parse_jsonl_line_reasons(fields: dict[str, object] | None, reason: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_jsonl_line(json.dumps(fields), "in.jsonl", 7)
    assert (info.value.source, info.value.line, info.value.reason) == ("in.jsonl", 7, reason)
    assert str(info.value) == f"in.jsonl:7: {reason}"


def test_parse_jsonl_line_invalid_json_names_the_column() -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_jsonl_line("{'title': 'T'}", "in.jsonl", 3)
    # json's wording varies between Python versions; the column is what the user needs.
    assert info.value.reason.startswith("invalid JSON: ")
    assert info.value.reason.endswith("(column 2)")


def test_parse_jsonl_line_long_values_are_shortened_in_reasons() -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_jsonl_line(json.dumps({**BASE, "published": "x" * 500}), "in.jsonl", 1)
    assert len(info.value.reason) < 120
    assert info.value.reason.endswith("…'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-11-26T08:15:00Z", datetime(2025, 11, 26, 8, 15, tzinfo=UTC)),
        ("2025-11-26T08:15:00", datetime(2025, 11, 26, 8, 15, tzinfo=UTC)),  # naive = UTC
        ("2025-11-26T08:15:00-05:00", datetime(2025, 11, 26, 13, 15, tzinfo=UTC)),
        ("2025-11-26", datetime(2025, 11, 26, tzinfo=UTC)),
        ("", None),
    ],
)
def test_parse_jsonl_line_dates(value: str, expected: datetime | None) -> None:
    article = parse_jsonl_line(json.dumps({**BASE, "published": value}), "f", 1)
    assert article.published == expected
    if expected is not None:
        assert article.published is not None and article.published.tzinfo is UTC


# ------------------------------------------------------------------------------------------
# Export records


ARTICLE = Article(
    id=42,
    title="Poutine et le Kirghizstan : Un accord",
    text="Premier paragraphe, avec « guillemets ».\n\nSecond paragraphe.\nAvec une ligne.",
    url="https://example.org/a?x=1&y=é",
    guid="urn:uuid:1234",
    author="Louis Joubert",
    published=datetime(2025, 11, 26, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=3))),
    category="Politique",
    language="fr",
    feed_id=3,
    content_hash="abc",
    stored_at=datetime(2025, 11, 27, tzinfo=UTC),
)


def test_article_to_record_shape() -> None:
    record = article_to_record(ARTICLE)
    assert list(record) == [
        *("id", "title", "text", "url", "guid"),
        *("author", "published", "category", "language", "image"),
    ]
    assert record["id"] == 42
    assert record["published"] == "2025-11-26T06:30:15.123456+00:00"


@pytest.mark.parametrize(
    "article",
    [
        ARTICLE,
        replace(ARTICLE, url=None, guid=None, author=None, published=None, language=None),
        replace(ARTICLE, category=None, published=datetime(1999, 12, 31, 23, 59, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_article_to_record_round_trips(article: Article, ensure_ascii: bool) -> None:
    line = json.dumps(article_to_record(article), ensure_ascii=ensure_ascii)
    back = parse_jsonl_line(line, "export.jsonl", 1)
    for name in ("title", "text", "url", "guid", "author", "published", "category", "language"):
        assert getattr(back, name) == getattr(article, name), name
    if back.published is not None:
        assert back.published.utcoffset() == timedelta(0)


@pytest.mark.parametrize("name", ["page-fr-oneline.txt", "page-en.txt", "page-multiline.txt"])
def test_imported_pages_survive_export_and_reimport(name: str) -> None:
    imported = only_article(FIXTURES / name)
    stored = Article(
        id=1,
        **{f: getattr(imported, f) for f in ("title", "text", "author", "published", "category")},
        url=None,
        guid=None,
        language=None,
        feed_id=None,
        content_hash="",
        stored_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    back = parse_jsonl_line(json.dumps(article_to_record(stored)), "export.jsonl", 1)
    assert back == imported


def test_section_is_taken_as_the_category_when_category_is_absent() -> None:
    line = '{"title": "T", "text": "Un texte.", "section": "Monde"}'
    assert parse_jsonl_line(line, "x.jsonl", 1).category == "Monde"
    both = '{"title": "T", "text": "Un texte.", "section": "Monde", "category": "France"}'
    assert parse_jsonl_line(both, "x.jsonl", 1).category == "France"
