"""The one post renderer: every format combination, on the seed article and on an article full
of `<`, `&` and emoji, is valid Telegram HTML within Telegram's limits (4,096 for a text, 1,024
for a caption as Telegram counts it); the format's parsing; silent posts in the policy; the
lead picture of a feed entry in each form it takes, and of a page."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources

import pytest

from bot.chat.render import MAX_MESSAGE, clip, tg_len
from bot.chat.render_delivery import MAX_CAPTION, caption_len, format_page, hashtag, post
from bot.config import DeliveryConfig
from bot.deliver.policy import SEND, SEND_SILENTLY, DeliveryPolicy, decide
from bot.errors import BadArgument
from bot.ingest.extract import extract_page
from bot.ingest.files import parse_jsonl_line, parse_text_page
from bot.ingest.parse import parse_feed
from bot.models import Article
from bot.services.publishing import (
    DEFAULT_FORMAT,
    MAX_POST_SENTENCES,
    PICTURE_MODES,
    PostFormat,
    format_of,
    parse_format,
)
from bot.summarize import split_sentences
from tests.fakebotapi import parse_html, utf16_len

WHEN = datetime(2025, 11, 26, 6, 30, tzinfo=UTC)
HOSTILE_TEXT = " ".join(
    f"Phrase {i} <b>&amp; 🇫🇷 a < b && c > d 👩‍👩‍👧‍👦 « &lt;script&gt; » {'😀' * 40}."
    for i in range(12)
)


def article(**fields: object) -> Article:
    base = Article(
        id=42,
        title="Titre",
        text="Texte.",
        url="https://news.example.org/a/1?x=1&y=<2>",
        guid=None,
        author="Nadia Benali",
        published=WHEN,
        category="Économie",
        language="fr",
        feed_id=None,
        content_hash="h",
        stored_at=WHEN,
        image="https://news.example.org/i/1.jpg?w=800&h=<450>",
        site_name="Le Quotidien",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def seed() -> tuple[Article, list[str]]:
    page = resources.files("bot.samples").joinpath("seed-article-fr.txt").read_text("utf-8")
    item = parse_text_page(page)
    assert item.image is None  # the seed format has no picture
    found = article(title=item.title, text=item.text, author=item.author, category=item.category)
    return found, split_sentences(item.text, "fr")[:MAX_POST_SENTENCES]


def hostile() -> tuple[Article, list[str]]:
    found = article(
        title="<i>L'&amp; « 🦄 » & <script>alert(1)</script> " + "🇫🇷" * 200,
        author="<b>Moi</b> & 😀" * 10,
        category="Sciences & <Tech> 😀 d'été",
        site_name="<Site> & 🇫🇷" * 20,
        url='https://ex.org/?a=<1>&b="2"&c=😀',
    )
    sentences = [f"Phrase {i} <b>&amp; a < b && c > d 😀 " + "👩‍👩‍👧‍👦" * 60 for i in range(5)]
    return found, sentences


SIGNATURES = ("", "— Rédaction", "<b>&amp;</b> 😀 " * 14)


def formats() -> list[PostFormat]:
    found = []
    for title, hashtags, author, source, link in itertools.product((True, False), repeat=5):
        for summary, signature, picture in itertools.product(
            range(MAX_POST_SENTENCES + 1), SIGNATURES, PICTURE_MODES
        ):
            found.append(
                PostFormat(
                    title=title,
                    summary=summary,
                    hashtags=hashtags,
                    author=author,
                    source=source,
                    link=link,
                    signature=signature[:200],
                    picture=picture,
                )
            )
    return found


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("make", [seed, hostile], ids=["seed", "hostile"])
def test_every_format_combination_is_valid_telegram_html_within_limits(
    language: str, make: object
) -> None:
    found, sentences = make()  # type: ignore[operator]
    combinations = formats()
    assert len(combinations) == 2**5 * 6 * 3 * 3
    photos = 0
    for fmt in combinations:
        for refused in (False, True):
            result = post(language, found, sentences, fmt, 7, picture_refused=refused)
            text = result.view.text
            shown = parse_html(text)  # raises on anything Telegram would refuse
            assert shown.strip()
            if result.photo is not None:
                photos += 1
                assert fmt.picture == "photo" and not refused
                assert utf16_len(shown) <= MAX_CAPTION == 1024
                assert caption_len(text) == utf16_len(shown)
                assert result.preview is None
            else:
                assert tg_len(text) <= MAX_MESSAGE
                wants_preview = fmt.picture == "preview" or refused
                assert result.preview == (found.url if wants_preview else None)
            # What the format asks for is there, what it does not is not.
            assert ("42 · " in shown) == fmt.title
            assert ("#" in shown.split("\n")[0]) == fmt.hashtags
            if fmt.signature:
                assert clip(fmt.signature, 200) in shown
            bullets = shown.count("• ")
            assert bullets <= fmt.sentences(5)
            if result.photo is None and make is seed:
                assert bullets == fmt.sentences(5)  # the seed's summary always fits a text
    assert photos > 0


def test_a_caption_keeps_whole_sentences_and_goes_as_text_when_nothing_fits() -> None:
    found, _ = seed()
    long = ["Une phrase de plus dans ce résumé qui s'allonge encore et encore. " * 3] * 5
    result = post("fr", found, long, PostFormat(summary=5))
    assert result.photo is not None
    kept = [line for line in parse_html(result.view.text).split("\n") if line.startswith("• ")]
    assert 0 < len(kept) < 5 and all(line == f"• {long[0]}" for line in kept)
    # A caption counts what is shown: "&lt;" is one character, a flag emoji four.
    assert caption_len("<b>&lt;🇫🇷</b>") == 5
    # No picture, or text only: text.
    assert post("fr", replace(found, image=None), long).photo is None
    assert post("fr", found, long, PostFormat(picture="text")).preview is None
    assert post("fr", replace(found, image="ftp://x/y.jpg"), long).photo is None


def test_hashtags_keep_accents_and_drop_spaces() -> None:
    assert hashtag("Économie") == "#Économie"
    assert hashtag("Vie quotidienne") == "#Viequotidienne"
    assert hashtag("Sciences & Tech") == "#SciencesTech"
    assert hashtag("2025") is None and hashtag("&&") is None


def test_format_page_previews_the_next_post_within_a_message() -> None:
    found, sentences = hostile()
    for fmt in (DEFAULT_FORMAT, PostFormat(summary=5, link=True, signature="x" * 200)):
        view = format_page("fr", fmt, 3, found, sentences)
        shown = parse_html(view.text)
        assert tg_len(view.text) <= MAX_MESSAGE and "Aperçu de la prochaine publication" in shown
    empty = format_page("en", DEFAULT_FORMAT, 3, None)
    assert "no article yet" in parse_html(empty.text)


def test_parse_format_takes_key_value_pairs_and_refuses_anything_else() -> None:
    fmt = parse_format('summary=2 hashtags=on signature="— Rédaction"')
    assert (fmt.summary, fmt.hashtags, fmt.signature) == (2, True, "— Rédaction")
    assert parse_format("signature=«Le journal» silent=quiet picture=preview").signature == (
        "Le journal"
    )
    assert parse_format("signature=“x y”").signature == "x y"
    assert parse_format("signature=off", fmt).signature == ""
    assert parse_format("TITLE=off link=oui", fmt).title is False
    for bad in (
        "",
        "summary=6",
        "summary=-1",
        "colour=red",
        "hashtags",
        'signature="unclosed',
        "title=maybe",
        "picture=gif",
        "silent=sometimes",
        "signature=" + "x" * 201,
        "summary=2 extra",
    ):
        with pytest.raises(BadArgument):
            parse_format(bad)


def test_a_stored_format_is_read_back_leniently() -> None:
    assert format_of({}) == DEFAULT_FORMAT
    odd = {"format": {"summary": 9, "title": "yes", "picture": "gif", "signature": 3}, "silent": 1}
    assert format_of(odd) == DEFAULT_FORMAT
    fmt = PostFormat(summary=0, hashtags=True, signature="s", picture="text", silent="quiet")
    assert format_of({"format": fmt.stored(), "silent": "quiet"}) == fmt


def test_silent_posts_during_quiet_hours_go_out_at_once() -> None:
    defaults = DeliveryConfig()
    night = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 00:00 in Paris
    quiet = {"quiet": ["22:00", "07:00"]}
    assert decide(DeliveryPolicy.of(quiet, defaults), night, None).action == "hold"
    silent = DeliveryPolicy.of({**quiet, "silent": "quiet"}, defaults)
    assert decide(silent, night, None) == SEND_SILENTLY
    day = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert decide(silent, day, None) == SEND and not SEND.silent
    paused = DeliveryPolicy.of({**quiet, "silent": "quiet", "paused": True}, defaults)
    assert decide(paused, night, None).action == "hold"


FEED = """<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>
<link>http://a.example/</link><description>d</description>
<item><title>content</title><link>http://a.example/1</link>
  <media:content url="/img/a.jpg" type="image/jpeg"/><description>x</description></item>
<item><title>medium</title><link>http://a.example/6</link>
  <media:content url="http://a.example/f.jpg" medium="image"/><description>x</description></item>
<item><title>thumbnail</title><link>http://a.example/2</link>
  <media:thumbnail url="http://a.example/b.png"/><description>x</description></item>
<item><title>enclosure</title><link>http://a.example/3</link>
  <enclosure url="http://a.example/c.jpg" type="image/jpeg" length="1"/>
  <description>x</description></item>
<item><title>img</title><link>http://a.example/4</link>
  <description>&lt;p&gt;hi &lt;img src="d.jpg"&gt;&lt;/p&gt;</description></item>
<item><title>none</title><link>http://a.example/5</link>
  <enclosure url="http://a.example/e.mp3" type="audio/mpeg" length="1"/>
  <media:content url="http://a.example/v.mp4" type="video/mp4"/>
  <description>&lt;img src="data:image/png;base64,AAA"&gt;&lt;img src="javascript:x"&gt;
  </description>
</item>
</channel></rss>"""


def test_the_lead_picture_of_a_feed_entry_in_each_form() -> None:
    parsed = parse_feed(FEED.encode(), url="http://a.example/rss")
    images = {entry.title: entry.image for entry in parsed.entries}
    assert images == {
        "content": "http://a.example/img/a.jpg",
        "medium": "http://a.example/f.jpg",
        "thumbnail": "http://a.example/b.png",
        "enclosure": "http://a.example/c.jpg",
        "img": "http://a.example/d.jpg",
        "none": None,
    }


PAGE = """<html><head><title>T</title>{meta}</head><body><article>
<p>{body}</p></article></body></html>"""


@pytest.mark.parametrize(
    ("meta", "image", "site"),
    [
        ('<meta property="og:image" content="/i/og.jpg"><meta property="og:site_name" '
         'content="Le Quotidien">', "https://ex.org/i/og.jpg", "Le Quotidien"),
        ('<meta name="twitter:image" content="https://cdn.ex.org/tw.jpg">',
         "https://cdn.ex.org/tw.jpg", None),
        ('<meta property="og:image" content="data:image/png;base64,AAAA">', None, None),
        ("", None, None),
    ],
)  # fmt: skip
def test_the_lead_picture_of_a_page(meta: str, image: str | None, site: str | None) -> None:
    body = " ".join(f"La phrase numéro {i} de cet article parle d'autre chose." for i in range(20))
    page = extract_page(PAGE.format(meta=meta, body=body).encode(), url="https://ex.org/a/1")
    assert page is not None and page.image == image
    if site:
        assert page.site_name == site


def test_import_takes_an_optional_http_image() -> None:
    line = '{"title": "T", "text": "Texte.", "image": "https://ex.org/i.jpg"}'
    assert parse_jsonl_line(line, "f.jsonl", 1).image == "https://ex.org/i.jpg"
    assert parse_jsonl_line('{"title": "T", "text": "x"}', "f.jsonl", 1).image is None
    for bad in ('"ftp://ex.org/i.jpg"', '"/i.jpg"', "3"):
        with pytest.raises(Exception, match='"image"'):
            parse_jsonl_line(f'{{"title": "T", "text": "x", "image": {bad}}}', "f.jsonl", 2)
