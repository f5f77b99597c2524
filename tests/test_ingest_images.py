"""Lead pictures through ingest over real HTTP (a loopback feed with a picture in each form the
feed can give it, and pages with `og:image` / `twitter:image`), stored on SQLite and
PostgreSQL; the store forgets a picture Telegram refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import Config, FeedConfig, IngestConfig, StoreConfig
from bot.ingest.fetch import Fetcher
from bot.ingest.pipeline import IngestPipeline
from bot.models import NewArticle
from bot.store import SqlStore
from tests.feedserver import FeedServer

INGEST = IngestConfig(timeout_seconds=2.5, max_bytes=200_000, per_host_concurrency=4)
WORDS = " ".join(f"Phrase {i} d’un article complet livré par le flux lui-même." for i in range(30))


def item(title: str, extra: str, text: str = WORDS, page: str | None = None) -> str:
    link = f"{{base}}/p/{page}" if page else f"{{base}}/full/{title}"
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>{{base}}/g/{title}</guid>"
        f"{extra}<description>{text}</description></item>"
    )


FEED = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
    "<title>Le Quotidien</title><link>{base}/</link><description>d</description>"
    + item("content", '<media:content url="/img/content.jpg" type="image/jpeg"/>')
    + item("thumbnail", '<media:thumbnail url="{base}/img/thumb.jpg"/>')
    + item("enclosure", '<enclosure url="{base}/img/encl.png" type="image/png" length="9"/>')
    + item("inline", "", text=f"&lt;p&gt;&lt;img src='/img/inline.gif'&gt;{WORDS}&lt;/p&gt;")
    + item("og", "", text="Un court chapeau.", page="og")
    + item("twitter", "", text="Un autre chapeau.", page="twitter")
    + item(
        "both",
        '<media:thumbnail url="{base}/img/feed-wins.jpg"/>',
        text="Encore un chapeau.",
        page="both",
    )
    + item("none", '<enclosure url="{base}/a.mp3" type="audio/mpeg" length="9"/>')
    + item("later", "", text="Un chapeau dont la page tarde.", page="later")
    + "</channel></rss>"
)
PAGE = (
    "<html><head><title>{title}</title>{meta}</head><body><article><h1>{title}</h1>"
    + "".join(
        f"<p>Paragraphe {i} de la page, qui raconte autre chose encore.</p>" for i in range(20)
    )
    + "</article></body></html>"
)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.add("/rss", FEED, content_type="application/rss+xml")
        og = '<meta property="og:image" content="/img/og.jpg">'
        og += '<meta property="og:site_name" content="Le Quotidien en ligne">'
        srv.add("/p/og", PAGE.format(title="og", meta=og), content_type="text/html")
        srv.add("/p/both", PAGE.format(title="both", meta=og), content_type="text/html")
        srv.add("/p/later", b"busy", status=503, content_type="text/plain")
        twitter = '<meta name="twitter:image" content="{base}/img/tw.jpg">'
        srv.add("/p/twitter", PAGE.format(title="tw", meta=twitter), content_type="text/html")
        yield srv


async def test_ingest_keeps_each_articles_lead_picture(
    server: FeedServer, store: SqlStore, store_url: str
) -> None:
    config = Config(
        ingest=INGEST,
        feeds=(FeedConfig(server.url("/rss"), "Économie", "fr"),),
        store=StoreConfig(url=store_url),
    )
    fetcher = Fetcher(config.ingest, clock=store.clock)
    async with fetcher, IngestPipeline(store, config, clock=store.clock, fetcher=fetcher) as pipe:
        report = await pipe.run()
        assert report.new == 9
        # A page that failed gives its picture when a later run completes the teaser.
        og = '<meta property="og:image" content="/img/later.jpg">'
        server.add("/p/later", PAGE.format(title="later", meta=og), content_type="text/html")
        again = await pipe.run(include_not_due=True)
        assert sum(feed.pages_completed for feed in again.feeds) == 1
    found = {a.guid.rsplit("/", 1)[1]: a async for a in store.iter_articles() if a.guid}
    base = server.base
    assert {key: a.image for key, a in found.items()} == {
        "content": f"{base}/img/content.jpg",
        "thumbnail": f"{base}/img/thumb.jpg",
        "enclosure": f"{base}/img/encl.png",
        "inline": f"{base}/img/inline.gif",
        "og": f"{base}/img/og.jpg",
        "twitter": f"{base}/img/tw.jpg",
        "both": f"{base}/img/feed-wins.jpg",
        "none": None,
        "later": f"{base}/img/later.jpg",
    }
    # The source: the page's site name, else the feed's title.
    assert found["og"].site_name == "Le Quotidien en ligne"
    assert found["content"].site_name == "Le Quotidien"


async def test_the_store_keeps_a_picture_and_forgets_a_refused_one(store: SqlStore) -> None:
    result = await store.add_articles(
        [
            NewArticle(
                title="Avec image",
                text="Texte.",
                image="https://ex.org/i.jpg",
                site_name="Ex",
            ),
            NewArticle(title="Sans image", text="Autre texte."),
        ]
    )
    first, second = result.ids
    article = await store.get_article(first)
    assert (article.image, article.site_name) == ("https://ex.org/i.jpg", "Ex")
    assert (await store.get_article(second)).image is None
    assert not await store.forget_image(first, "https://ex.org/other.jpg")  # not its picture
    assert await store.forget_image(first, "https://ex.org/i.jpg")
    assert (await store.get_article(first)).image is None
    assert not await store.forget_image(first, "https://ex.org/i.jpg")
    [listed] = [a for a in await store.get_articles([first])]
    assert listed.image is None and listed.site_name == "Ex"
