"""Views of the bot's admins' feed commands: the /feeds pages with a row of buttons per feed,
the removal's confirmation, /addfeed's answers, and the alerts when a feed is disabled after
repeated failures or works again. Pure functions like `bot.chat.render`, whose helpers they
use: every value is escaped and clipped, so a page stays far within Telegram's limits.
"""

from __future__ import annotations

from bot.chat.callbacks import FeedAction
from bot.chat.i18n import Html, format_date, plain, plural, t
from bot.chat.render import Button, View, clip, page_buttons
from bot.ingest.pipeline import NOT_MODIFIED, FeedReport
from bot.models import Feed
from bot.services.feeds import FeedAdded, FeedAlert, FeedLine, FeedPage

# How much of a URL, a title and an error a line shows.
_NAME = 80
_ERROR = 100


def _name(feed: Feed) -> str:
    return clip(feed.title or feed.url, _NAME)


def _state(language: str, feed: Feed) -> Html:
    error = clip(feed.last_error or "", _ERROR)
    if not feed.enabled:
        if error:
            return t(language, "feed_state_disabled_error", error=error)
        return t(language, "feed_state_disabled")
    if feed.failures:
        return t(language, "feed_state_failing", count=feed.failures, error=error or "?")
    return t(language, "feed_state_active" if feed.last_fetched else "feed_state_new")


def _line(language: str, line: FeedLine) -> Html:
    feed = line.feed
    fetched = (
        t(
            language,
            "feed_fetched",
            date=format_date(feed.last_fetched, language),
            time=feed.last_fetched.strftime("%H:%M"),
        )
        if feed.last_fetched
        else t(language, "feed_never_fetched")
    )
    return t(
        language,
        "feed_line",
        id=feed.id,
        name=_name(feed),
        category=clip(feed.category, 60) if feed.category else plain(language, "feed_no_category"),
        state=_state(language, feed),
        fetched=fetched,
        articles=plural(language, "feed_articles", line.articles),
    )


def _buttons(language: str, feed: Feed) -> tuple[Button, ...]:
    row = []
    if feed.enabled:
        row.append(Button(plain(language, "btn_feed_fetch", id=feed.id), FeedAction("r", feed.id)))
        row.append(
            Button(plain(language, "btn_feed_disable", id=feed.id), FeedAction("d", feed.id))
        )
    else:
        row.append(Button(plain(language, "btn_feed_enable", id=feed.id), FeedAction("e", feed.id)))
    if feed.origin != "config":  # a config feed is changed in the config file
        row.append(Button(plain(language, "btn_feed_remove", id=feed.id), FeedAction("x", feed.id)))
    return tuple(row)


def feeds_page(language: str, page: FeedPage) -> View:
    """A page of /feeds: each feed's category, state, last fetch and article count, with its
    buttons (fetch now, enable or disable, remove), and Previous / Next."""
    if not page.total:
        return View(t(language, "feeds_none"))
    title = t(language, "feeds_title", total=page.total, page=page.number, pages=page.pages)
    lines = [title, *(_line(language, line) for line in page.lines)]
    rows = [_buttons(language, line.feed) for line in page.lines]
    paging = page_buttons(language, page.number, page.pages, lambda n: FeedAction("p", n))
    if paging:
        rows.append(paging)
    return View(Html("\n\n".join(lines)), tuple(rows))


def remove_confirm(language: str, feed: Feed, page: int = 1) -> View:
    """Asked before a feed is removed."""
    text = t(language, "feed_remove_confirm", id=feed.id, url=clip(feed.url, _NAME))
    rows = (
        (
            Button(plain(language, "btn_feed_remove_confirm"), FeedAction("X", feed.id)),
            Button(plain(language, "btn_feed_cancel"), FeedAction("p", page)),
        ),
    )
    return View(text, rows)


def removed(language: str, feed: Feed) -> View:
    return View(t(language, "feed_removed", id=feed.id, url=clip(feed.url, _NAME)))


def added(language: str, result: FeedAdded) -> View:
    """/addfeed's answer: the feed, its category, and what its first ingest stored."""
    feed = result.feed
    name = clip(result.title or feed.url, _NAME)
    category = clip(feed.category, 60) if feed.category else plain(language, "feed_no_category")
    if result.report is None:
        return View(t(language, "feed_added_later", id=feed.id, name=name, category=category))
    new = plural(language, "feed_new", result.report.new)
    return View(t(language, "feed_added", id=feed.id, name=name, category=category, new=new))


def fetch_notice(language: str, feed_id: int, report: FeedReport | None) -> str:
    """The notice (plain text, at most 200 characters) after "fetch now"."""
    if report is None:
        return plain(language, "notice_feed_busy")
    if report.error:
        return clip(plain(language, "notice_feed_failed", id=feed_id, error=report.error), 200)
    if report.status == NOT_MODIFIED:
        return plain(language, "notice_feed_not_modified", id=feed_id)
    return plain(
        language,
        "notice_feed_fetched",
        id=feed_id,
        new=report.new,
        duplicates=report.duplicates,
    )


def alert(language: str, found: FeedAlert) -> View:
    """Told to each admin when a feed is disabled after repeated failures, or works again."""
    feed = found.feed
    url = clip(feed.url, _NAME)
    if found.kind == "disabled":
        error = clip(feed.last_error or "?", _ERROR * 2)
        return View(
            t(
                language,
                "feed_alert_disabled",
                id=feed.id,
                url=url,
                count=feed.failures,
                error=error,
            )
        )
    return View(t(language, "feed_alert_recovered", id=feed.id, url=url))
