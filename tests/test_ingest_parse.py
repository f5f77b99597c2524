"""Feed bytes -> entries (bot.ingest.parse) and page HTML -> article (bot.ingest.extract)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import FeedParseError
from bot.ingest.extract import clean_body, extract_page
from bot.ingest.parse import entry_guid, is_teaser, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
BASE = "http://127.0.0.1:8000"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"{base}", BASE.encode())


def page(path: str) -> bytes:
    """A fixture article page rendered from page.html and pages.json."""
    data = json.loads((FIXTURES / "pages.json").read_text(encoding="utf-8"))[path]
    html = (FIXTURES / "page.html").read_text(encoding="utf-8")
    paragraphs = "\n".join(f"<p>{p}</p>" for p in data["paragraphs"])
    for key, value in {**data, "paragraphs": paragraphs, "lang": "fr"}.items():
        html = html.replace("{" + key + "}", value)
    return html.encode("utf-8")


def test_rss20_entries_are_cleaned_and_guids_namespaced() -> None:
    feed = parse_feed(
        fixture("rss20.xml"),
        url=f"{BASE}/rss20.xml",
        headers={"content-type": "application/rss+xml"},
    )
    assert (feed.title, feed.version, feed.malformed) == ("Le Quotidien — Économie", "rss20", None)
    full, teaser = feed.entries
    assert full.guid == f"{BASE}/rss20.xml#1"  # "1" is only unique within this feed
    assert full.url == f"{BASE}/articles/croissance"
    assert full.author == "Claire Martin" and full.tags == ("Conjoncture",)
    assert full.published == datetime(2025, 6, 10, 6, 0, tzinfo=UTC)
    assert full.text.startswith("Le produit intérieur brut a progressé de 0,4 %")
    assert full.text.count("\n\n") == 3  # content:encoded paragraphs kept
    assert not full.teaser
    assert teaser.teaser and teaser.author == "Paul Durand"  # "email (Name)"
    assert teaser.text == "Les prix à la pompe baissent pour la troisième semaine."


def test_rss10_and_atom() -> None:
    rdf = parse_feed(fixture("rss10.rdf"), url=f"{BASE}/rss10.rdf")
    (comet,) = rdf.entries
    assert rdf.version == "rss10"
    assert (comet.title, comet.tags, comet.url) == (
        "Une comète visible à l'œil nu",
        ("Astronomie",),
        f"{BASE}/sciences/comete",
    )
    assert comet.published == datetime(2025, 6, 11, 19, 0, tzinfo=UTC)

    atom = parse_feed(fixture("atom.xml"), url=f"{BASE}/atom.xml")
    summit, floods = atom.entries
    assert atom.version == "atom10" and atom.title == "World desk"
    assert summit.guid == "tag:example.org,2025:summit"  # globally unique: kept as is
    assert (summit.author, summit.tags) == ("Ann Lee", ("Diplomacy",))
    assert summit.text == "Leaders left the summit without a joint statement."
    assert summit.published == datetime(2025, 6, 12, 8, 30, tzinfo=UTC)
    assert floods.published == datetime(2025, 6, 12, 7, 0, tzinfo=UTC)  # updated, no published


@pytest.mark.parametrize(
    "content_type", [None, "text/xml", "application/xml", "text/xml; charset=ISO-8859-1"]
)
def test_latin1_declared_in_xml_only(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    feed = parse_feed(fixture("latin1.xml"), url=f"{BASE}/latin1.xml", headers=headers)
    (entry,) = feed.entries
    assert entry.title == "L'été sera chaud selon Météo-France"
    assert feed.title == "Société"


def test_utf8_bytes_with_a_wrong_latin1_declaration_are_read_as_utf8() -> None:
    body = fixture("latin1.xml").decode("latin-1").encode("utf-8")  # now UTF-8, still says 8859-1
    for headers in ({}, {"content-type": "application/rss+xml; charset=iso-8859-1"}):
        (entry,) = parse_feed(body, url=f"{BASE}/x", headers=headers).entries
        assert entry.title == "L'été sera chaud selon Météo-France"


def test_malformed_feed_with_entries_is_used_and_flagged() -> None:
    feed = parse_feed(fixture("truncated.xml"), url=f"{BASE}/truncated.xml")
    assert feed.malformed
    titles = [entry.title for entry in feed.entries]
    assert titles[:2] == ["Premier article complet", "Deuxième article complet"]


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (fixture("not-a-feed.html"), {"content-type": "text/html"}, "not a feed: got an HTML page"),
        (b"", {}, "empty response"),
        (b"   \n", {}, "empty response"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", {}, "not a feed"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
            {},
            "feed has no entries",
        ),
        (b"<?xml version='1.0'?><rss version='2.0'><channel><title>cut", {}, "no entries"),
    ],
    ids=["html", "empty", "blank", "binary", "no-entries", "cut-before-entries"],
)
def test_not_a_usable_feed_says_why(body: bytes, headers: dict[str, str], reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason):
        parse_feed(body, url=f"{BASE}/bad", headers=headers)


def test_relative_links_resolve_against_the_final_url() -> None:
    body = (
        b'<rss version="2.0"><channel><title>t</title><item><title>A</title>'
        b"<link>/a/1</link><guid>7</guid><description>x</description></item></channel></rss>"
    )
    (entry,) = parse_feed(
        body, url="http://old.example/rss", base="https://new.example/rss"
    ).entries
    assert entry.url == "https://new.example/a/1"
    assert entry.guid == "http://old.example/rss#7"  # stable whatever the redirects


def test_entry_guid_and_teaser_rules() -> None:
    assert entry_guid("https://Ex.org/rss/?utm_source=x", "42") == "https://ex.org/rss#42"
    assert entry_guid("https://ex.org/rss", "https://ex.org/?p=42") == "https://ex.org/?p=42"
    assert entry_guid("https://ex.org/rss", "urn:uuid:1234") == "urn:uuid:1234"
    assert entry_guid("https://ex.org/rss", "  ") is None
    assert is_teaser("Une phrase.")
    assert not is_teaser("mot " * 200)
    assert is_teaser("mot " * 200 + "[…]")
    assert is_teaser("mot " * 200 + "Lire la suite")


# -- article pages ---------------------------------------------------------------------------


def test_extract_page_fields_and_body() -> None:
    result = extract_page(page("/articles/gazole"), url=f"{BASE}/articles/gazole")
    assert result is not None
    assert result.title == "Le prix du gazole recule pour la troisième semaine"
    assert result.author == "Paul Durand"
    assert result.section == "Économie"
    assert result.published == datetime(2025, 6, 9, tzinfo=UTC)
    paragraphs = result.text.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("Le prix du gazole a encore baissé")
    assert "publié le" not in result.text  # the byline line is metadata, not body
    for boilerplate in ("Accueil", "Mentions légales", "À lire aussi"):
        assert boilerplate not in result.text


def test_extract_page_charset_from_header_or_meta() -> None:
    html = page("/articles/ete").decode("utf-8").replace("—", "-")
    latin1 = html.replace('charset="utf-8"', 'charset="iso-8859-1"').encode("iso-8859-1")
    for charset in ("iso-8859-1", None):  # from the header, else the page's own <meta>
        result = extract_page(latin1, url=f"{BASE}/articles/ete", charset=charset)
        assert result is not None and "Météo-France" in result.text


def test_extract_page_without_an_article_is_none() -> None:
    assert extract_page(fixture("not-a-feed.html")) is None
    assert extract_page(b"") is None


def test_clean_body_drops_byline_and_title_lines() -> None:
    raw = "Titre\nAFP, publié le lundi 26 août 2019 à 10h43\nPremier paragraphe.\nSecond."
    assert clean_body(raw, title="Titre") == "Premier paragraphe.\n\nSecond."
    assert clean_body("Jean Dupont, 3 mai 2020\nTexte.", author="Jean Dupont") == "Texte."
    kept = "Le 3 mai 2020, publié dans un rapport, ce chiffre a été " + "confirmé " * 30
    assert clean_body(kept) == kept.strip()  # a long line is a paragraph


def test_a_lone_article_card_does_not_hide_the_story() -> None:
    """A page whose only <article> is a small "read also" card: the story is elsewhere."""
    story = "".join(
        f"<p>Paragraphe {n} du vrai article, qui raconte en détail ce qui s'est passé hier "
        "soir dans la ville, avec des témoignages et des chiffres précis.</p>"
        for n in range(6)
    )
    html = (
        "<html><head><title>Le vrai titre</title></head><body><div class='story'>"
        f"<h1>Le vrai titre</h1>{story}</div><aside><article><h2>À lire aussi</h2>"
        "<p>Une autre histoire, résumée ici en une seule phrase assez longue pour compter "
        "vingt-cinq mots au moins afin de passer le seuil minimal du corps d'un article.</p>"
        "</article></aside></body></html>"
    )
    result = extract_page(html.encode(), charset="utf-8")
    assert result is not None and "Paragraphe 5 du vrai article" in result.text
    assert "Une autre histoire" not in result.text
