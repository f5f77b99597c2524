"""Views as the user reads them: escaped, valid Telegram HTML, within 4096, localized; and full
texts cut into pages at the largest boundary that fits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.chat import render
from bot.chat.callbacks import OpenCategory, ShowFullText, ShowLatest
from bot.chat.i18n import format_date, format_number, format_size
from bot.config import LinksConfig
from bot.errors import LINK_REASONS
from bot.models import Article, Category
from bot.services.articles import ArticlePage, Summary, TextPage, split_pages
from bot.services.chats import Preferences
from bot.services.sharing import SharedArticle
from tests.fakebotapi import parse_html, utf16_len

NOW = datetime(2025, 11, 26, 16, 45, tzinfo=UTC)


def article(article_id: int = 42, **fields: object) -> Article:
    values: dict[str, object] = {
        "id": article_id,
        "title": "La Bourse de Paris termine en hausse",
        "text": "Le CAC 40 a gagné 1,2 % vendredi. Les banques ont mené la hausse.",
        "url": "https://www.lemonde.fr/economie/bourse.html",
        "guid": None,
        "author": "Anne Dupont",
        "published": NOW,
        "category": "Économie",
        "language": "fr",
        "feed_id": None,
        "content_hash": "h",
        "stored_at": NOW,
    }
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


def check(view: render.View) -> str:
    """The view's text as the user sees it, after checking Telegram would take it."""
    assert utf16_len(view.text) <= 4096
    return parse_html(view.text)


def page_of(articles: list[Article], **fields: object) -> ArticlePage:
    values: dict[str, object] = {
        "articles": tuple(articles),
        "offset": 0,
        "size": len(articles),
        "has_more": False,
        "total": len(articles),
    }
    values.update(fields)
    return ArticlePage(**values)  # type: ignore[arg-type]


# -- escaping and limits ------------------------------------------------------------------------


def test_article_text_is_escaped_everywhere() -> None:
    nasty = article(
        title='<b>Gras</b> & "guillemets" <script>',
        author="A&B <i>",
        category="Cat<é>gorie",
        url="https://example.org/?a=1&b=<2>",
    )
    view = render.article_list("fr", page_of([nasty]))
    assert '&lt;b&gt;Gras&lt;/b&gt; &amp; "guillemets" &lt;script&gt;' in view.text
    shown = check(view)
    assert '42 · <b>Gras</b> & "guillemets" <script>' in shown
    assert "Cat<é>gorie · A&B <i> · example.org · 26 novembre 2025" in shown
    summary = render.summary(
        "fr", Summary(nasty, ["Une phrase <u>soulignée</u> & plus."], 1, "default")
    )
    assert "• Une phrase <u>soulignée</u> & plus." in check(summary)


def test_a_page_of_twenty_huge_articles_still_fits_one_message() -> None:
    huge = [
        article(
            i,
            title="&<>" * 400,
            author="&" * 200,
            category="<" * 200,
            url=f"https://{'x' * 60}.example.org/{i}",
        )
        for i in range(1, 21)
    ]
    view = render.article_list("fr", page_of(huge, query="&" * 500, total=None))
    shown = check(view)
    assert all(f"\n{i} · " in shown for i in range(1, 21))
    assert len(view.rows) == 20


def test_list_header_counts_and_paging_buttons() -> None:
    items = [article(i) for i in (9, 8, 7)]
    category = Category(3, "Économie", "economie", 1234)
    view = render.article_list(
        "fr", page_of(items, offset=3, size=3, has_more=True, total=1234, category=category)
    )
    assert check(view).startswith("📰 Économie · 4–6 sur 1\u202f234")
    newer, more = view.rows[-1]
    assert (newer.label, newer.action) == ("‹ Plus récents", ShowLatest(0, 3, 3))
    assert (more.label, more.action) == ("Plus ›", ShowLatest(6, 3, 3))
    english = render.article_list("en", page_of(items, total=1234))
    assert check(english).startswith("📰 Latest articles · 1–3 of 1,234")


def test_summary_of_long_sentences_fits() -> None:
    sentences = ["Une très longue phrase & " * 140 + "fin."] * 5
    view = render.summary("fr", Summary(article(title="T" * 2000), sentences, 5, "default"))
    shown = check(view)
    assert shown.startswith("📝 Résumé · ≤ 5 phrases, ~100 mots")
    assert "• Une très longue phrase" in shown


def test_categories_view_with_hundreds_of_categories() -> None:
    found = [Category(i, f"Rubrique numéro {i}", f"rubrique {i}", 1000 - i) for i in range(300)]
    view = render.categories("fr", found)
    shown = check(view)
    assert shown.startswith("🗂 Rubriques · 300")
    assert re.search(r"… et \d+ autres", shown)
    buttons = [b for row in view.rows for b in row]
    assert len(buttons) == render.MAX_CATEGORY_BUTTONS
    assert buttons[0].action == OpenCategory(0)


def test_link_buttons_only_for_urls_telegram_accepts() -> None:
    assert render.safe_url("https://example.org/a?b=c") == "https://example.org/a?b=c"
    for bad in ("javascript:alert(1)", "/relative", "https://", "https://a b.org", None, ""):
        assert render.safe_url(bad) is None
    view = render.article_list("en", page_of([article(url="ftp://example.org/x")]))
    assert [b.label for b in view.rows[0]] == ["42 · 📝 Summary", "📄 Text"]


def test_settings_view_ticks_the_current_choices() -> None:
    prefs = Preferences(chat_id=1, language="en", sentences=5, algorithm="lexrank")
    view = render.settings("en", prefs, ("default", "lead", "lexrank", "lsa"))
    assert "Summaries: ≤ 5 sentences, ~100 words, method lexrank" in check(view)
    labels = [[b.label for b in row] for row in view.rows]
    assert labels == [
        ["1 sentence", "≤ 3 sentences, ~60 words", "✓ ≤ 5 sentences, ~100 words"],
        ["default", "lead", "✓ lexrank"],
        ["lsa"],
        ["Français", "✓ English"],
    ]


# -- localized dates and numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "language", "expected"),
    [
        (datetime(2025, 11, 26, tzinfo=UTC), "fr", "26 novembre 2025"),
        (datetime(2025, 11, 26, tzinfo=UTC), "en", "26 November 2025"),
        (datetime(2025, 1, 1, tzinfo=UTC), "fr", "1er janvier 2025"),
        (datetime(2025, 1, 1, tzinfo=UTC), "en", "1 January 2025"),
        (datetime(2024, 8, 15, tzinfo=UTC), "fr", "15 août 2024"),
        (datetime(2024, 2, 3, tzinfo=UTC), "de", "3 February 2024"),
    ],
)
def test_dates_are_written_as_readers_write_them(
    when: datetime, language: str, expected: str
) -> None:
    assert format_date(when, language) == expected


def test_numbers_are_grouped_by_language() -> None:
    assert format_number(100000, "fr") == "100\u202f000"
    assert format_number(100000, "en") == "100,000"
    assert format_number(7, "fr") == "7"


def test_byline_falls_back_to_storage_time_and_skips_unknowns() -> None:
    bare = article(author=None, url=None, category=None, published=None)
    assert render.byline(bare, "en") == "26 November 2025"


# -- full text pages ----------------------------------------------------------------------------


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    paragraphs = [f"Paragraphe {i}. " + "Du texte. " * 30 for i in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    pages = split_pages(text, 1000)
    assert len(pages) > 3
    for page in pages:
        assert len(page) <= 1000
        for paragraph in page.split("\n\n"):
            assert paragraph in text.split("\n\n")
    assert "\n\n".join(pages) == text


def test_a_paragraph_longer_than_a_page_is_cut_between_sentences() -> None:
    sentences = [f"Phrase numéro {i} de ce très long paragraphe sans fin." for i in range(200)]
    text = " ".join(sentences)
    pages = split_pages(text, 700, language="fr")
    assert all(len(p) <= 700 for p in pages)
    assert all(p.endswith("fin.") for p in pages)
    assert " ".join(pages) == text


def test_a_giant_word_is_cut_as_a_last_resort() -> None:
    text = "début " + "x" * 2500 + " fin"
    pages = split_pages(text, 1000)
    assert all(len(p) <= 1000 for p in pages)
    assert "".join(pages).replace(" ", "") == text.replace(" ", "")


def test_pages_are_measured_as_they_will_be_sent() -> None:
    text = "\n\n".join(["R&D <et> " * 50] * 10)
    pages = split_pages(text, 800, render.html_len)
    assert all(render.html_len(p) <= 800 for p in pages)
    assert max(len(p) for p in pages) < 500  # raw text is far shorter than its escaped form


def test_empty_text_is_one_empty_page() -> None:
    assert split_pages("   ", 100) == [""]


def test_full_text_view_fits_with_a_long_title_and_has_paging() -> None:
    long_title = article(title="Titre interminable & compagnie " * 40, text="x")
    budget = render.full_text_budget("fr", long_title)
    body = "y" * budget
    view = render.full_text("fr", TextPage(long_title, body, 2, 3))
    shown = check(view)
    assert "page 2/3" in shown
    labels = [[b.label for b in row] for row in view.rows]
    assert labels[0] == ["‹ Précédent", "Suivant ›"]
    assert view.rows[0][1].action == ShowFullText(42, 3)
    assert labels[1] == ["📝 Résumé", "🔗 Lien"]


# -- links and inline mode ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("reason", LINK_REASONS)
def test_every_link_refusal_has_a_line_without_internals(language: str, reason: str) -> None:
    config = LinksConfig()
    view = render.link_error(language, reason, config, status=503 if reason == "status" else None)
    text = parse_html(view.text)
    assert text and "\n" not in text and view.rows == ()
    assert "Error" not in text and "Traceback" not in text
    if reason == "status":
        assert "503" in text
    if reason == "port":
        assert "80 / 443" in text


def test_an_inline_article_fits_and_links_back_to_the_bot() -> None:
    item = SharedArticle(article(title="<b>Titre</b> & co " * 30), ("Une phrase. " * 400,) * 3)
    shared = render.inline_article("fr", item, "newsbot_test_bot")
    assert shared.id == "42"
    assert len(shared.title) <= 120 and "\n" in shared.description
    assert utf16_len(shared.text) <= render.MAX_MESSAGE
    shown = parse_html(shared.text)
    assert shown.startswith("<b>Titre</b> & co")
    assert shown.endswith("🔗 lemonde.fr")
    assert [[b.label, b.url] for b in shared.rows[0]] == [
        ["📖 Lire dans le bot", "https://t.me/newsbot_test_bot?start=art_42"],
        ["🔗 Lien", "https://www.lemonde.fr/economie/bourse.html"],
    ]


def test_an_inline_article_without_summary_or_url() -> None:
    item = SharedArticle(article(url=None, text="Loto : 12 — 17 — 23 <gagnants>"), ())
    shared = render.inline_article("en", item, None)
    assert parse_html(shared.text).endswith("Loto : 12 — 17 — 23 <gagnants>…")
    assert shared.rows == ()
    assert render.deep_link("b0t", 7) == "https://t.me/b0t?start=art_7"


def test_sizes_read_naturally() -> None:
    assert format_size(3_000_000, "fr") == "3\u00a0Mo"
    assert format_size(2_500_000, "en") == "2.5\u00a0MB"
    assert format_size(100_000, "fr") == "100\u00a0ko"
    assert format_size(512, "en") == "512\u00a0B"
