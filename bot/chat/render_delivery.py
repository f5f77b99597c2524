"""Views of subscriptions and of what the sender pushes: a new article, a digest page, the list
of a chat's subscriptions and its delivery settings. Pure functions like `bot.chat.render`
(whose helpers they share), so the shell and the tests draw the same messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.chat import render
from bot.chat.callbacks import (
    OpenCategory,
    OpenFullText,
    OpenSummary,
    SetDelivery,
    ShowDigest,
    ShowSummary,
    Subscribe,
    Unsubscribe,
)
from bot.chat.i18n import Html, escape, format_date, format_number, plain, plural, t
from bot.chat.render import (
    MAX_MESSAGE,
    Button,
    Row,
    View,
    _heading,
    _link_button,
    bullets,
    clip,
    echo,
    page_buttons,
    tg_len,
)
from bot.models import Article, Category, Subscription
from bot.services.admin import Status
from bot.services.articles import Summary
from bot.services.subscriptions import DeliverySettings, DigestPage

# Digest times and quiet hours offered as buttons in /settings; /digest and /quiet take any.
DIGEST_TIMES: tuple[str, ...] = ("07:00", "08:00", "12:00", "18:00", "21:00")
QUIET_CHOICES: tuple[str, ...] = ("22:00-07:00", "23:00-08:00")
# Buttons in the /subscriptions view (one per subscription).
MAX_SUBSCRIPTION_BUTTONS = 40
# Failing feeds listed in /stats, so the message stays short; `newsbot stats` lists them all.
MAX_FAILING_FEEDS = 10


def _article_buttons(language: str, article: Article, category_id: int | None) -> tuple[Row, ...]:
    rows: list[Row] = [
        (
            Button(plain(language, "btn_longer"), ShowSummary(article.id, 5)),
            Button(plain(language, "btn_full_text"), OpenFullText(article.id)),
            *_link_button(language, article),
        )
    ]
    if category_id is not None:
        rows.append((Button(plain(language, "btn_unsubscribe_short"), Unsubscribe(category_id)),))
    return tuple(rows)


def delivery(language: str, result: Summary, category_id: int | None = None) -> View:
    """A new article of a subscribed category: category, title, summary, buttons."""
    article = result.article
    head = _push_head(language, article)
    body = bullets(result.sentences, tg_len(head))
    return View(Html("\n\n".join([head, *body])), _article_buttons(language, article, category_id))


def delivery_without_summary(
    language: str, article: Article, category_id: int | None = None
) -> View:
    """A new article whose text is too short to summarize: its heading and buttons."""
    return View(_push_head(language, article), _article_buttons(language, article, category_id))


def _push_head(language: str, article: Article) -> Html:
    """🆕 Category, then the article's numbered title and byline."""
    new = t(language, "push_new", category=clip(article.category or "", 60))
    return Html(f"{new}\n{_heading(article, language, 300)}")


def digest(language: str, page: DigestPage) -> View:
    """One page of a digest: each article with its short summary, buttons to open one, and
    paging."""
    head = t(
        language,
        "digest_title",
        date=format_date(page.created_at, language),
        count=plural(language, "articles", page.total),
    )
    if page.pages > 1:
        head = Html(f"{head} · {t(language, 'page', number=page.number, count=page.pages)}")
    blocks = [head]
    # Each article gets an equal share of the room left, so the last one is not cut out.
    share = (MAX_MESSAGE - tg_len(head) - 40) // max(1, len(page.entries))
    for entry in page.entries:
        heading = _heading(entry.article, language, 150)
        lines = bullets(
            entry.sentences, tg_len(heading) + 2, reserve=MAX_MESSAGE - tg_len(heading) - share
        )
        blocks.append(Html("\n".join([heading, *lines])))
    if not page.entries:
        blocks.append(t(language, "digest_empty"))
    opens = tuple(
        Button(plain(language, "btn_open", id=entry.article.id), OpenSummary(entry.article.id))
        for entry in page.entries
    )
    rows: list[Row] = [opens] if opens else []
    paging = page_buttons(
        language, page.number, page.pages, lambda n: ShowDigest(page.digest_id, n)
    )
    if paging:
        rows.append(paging)
    return View(Html("\n\n".join(blocks)), tuple(rows))


def subscribed(language: str, sub: Subscription) -> View:
    """The answer to /subscribe or a Subscribe button."""
    text = t(language, "subscribed", category=echo(sub.category))
    if sub.filters:
        filters = echo(" ".join(sub.filters), 200)
        text = Html(f"{text}\n{t(language, 'subscribed_filters', filters=filters)}")
    rows = (
        (
            Button(
                plain(language, "btn_unsubscribe", category=clip(sub.category, 30)),
                Unsubscribe(sub.category_id or 0),
            ),
        ),
    )
    return View(Html(f"{text}\n{t(language, 'subscribed_hint')}"), rows)


def topic_closed(language: str, categories: Sequence[str]) -> View:
    """Told to a group, outside topics, when the forum topic its *categories* went to was
    closed or deleted: those subscriptions stopped, the group's others go on."""
    names = ", ".join(clip(name, 60) for name in categories[:20])
    return View(t(language, "topic_closed", categories=names))


def subscriptions(
    language: str,
    subs: Sequence[Subscription],
    settings: DeliverySettings,
    *,
    mark_topics: bool = True,
) -> View:
    """/subscriptions: each subscription with its filters, how they are delivered, and an
    Unsubscribe button each; with `mark_topics` (the list of a whole forum), those that go to
    a topic say so."""
    if not subs:
        return View(t(language, "subscriptions_none"))
    lines = [t(language, "subscriptions_title", count=len(subs)), ""]
    used = tg_len("\n".join(lines)) + 400
    for sub in subs:
        line = f"• <b>{escape(clip(sub.category, 60))}</b>"
        if sub.filters:
            line += f" — {escape(clip(' '.join(sub.filters), 200))}"
        if mark_topics and sub.thread_id is not None:
            line += f" · {t(language, 'subscription_in_topic')}"
        if not sub.active:
            line += f" ({t(language, 'subscription_inactive')})"
        if used + tg_len(line) + 1 > MAX_MESSAGE:
            break
        lines.append(line)
        used += tg_len(line) + 1
    lines += ["", delivery_summary(language, settings)]
    buttons = [
        Button(
            plain(language, "btn_unsubscribe", category=clip(sub.category, 30)),
            Unsubscribe(sub.category_id),
        )
        for sub in subs[:MAX_SUBSCRIPTION_BUTTONS]
        if sub.category_id is not None
    ]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    return View(Html("\n".join(lines)), rows)


def delivery_summary(language: str, settings: DeliverySettings) -> Html:
    """One or two lines: how and when the chat receives its articles."""
    if settings.paused:
        return t(language, "delivery_paused")
    if settings.mode == "digest":
        line = t(language, "delivery_digest", time=settings.digest_time, zone=settings.timezone)
    else:
        line = t(language, "delivery_instant")
    if settings.quiet and settings.mode != "digest":
        quiet = t(language, "delivery_quiet", start=settings.quiet[0], end=settings.quiet[1])
        line = Html(f"{line}\n{quiet}")
    return line


def delivery_rows(language: str, settings: DeliverySettings) -> tuple[Row, ...]:
    """The /settings buttons for delivery: mode, digest time, quiet hours, pause."""

    def tick(label: str, chosen: bool) -> str:
        return f"✓ {label}" if chosen else label

    digest_mode = settings.mode == "digest"
    modes: Row = (
        Button(tick(plain(language, "btn_instant"), not digest_mode), SetDelivery("m", "instant")),
        Button(tick(plain(language, "btn_digest"), digest_mode), SetDelivery("m", "digest")),
    )
    rows: list[Row] = [modes]
    if digest_mode:
        rows.append(
            tuple(
                Button(tick(hhmm, hhmm == settings.digest_time), SetDelivery("t", hhmm))
                for hhmm in DIGEST_TIMES
            )
        )
    else:
        current = "-".join(settings.quiet) if settings.quiet else ""
        rows.append(
            (
                Button(tick(plain(language, "btn_quiet_off"), not current), SetDelivery("q", "")),
                *(
                    Button(tick(choice, choice == current), SetDelivery("q", choice))
                    for choice in QUIET_CHOICES
                ),
            )
        )
    rows.append(
        (
            Button(plain(language, "btn_resume"), SetDelivery("p", "0"))
            if settings.paused
            else Button(plain(language, "btn_pause"), SetDelivery("p", "1")),
        )
    )
    return tuple(rows)


def with_delivery(language: str, view: View, settings: DeliverySettings) -> View:
    """The /settings view followed by the delivery settings and their buttons."""
    text = Html(f"{view.text}\n\n{delivery_summary(language, settings)}")
    return View(text, (*view.rows, *delivery_rows(language, settings)))


def categories(language: str, found: Sequence[Category], subscribed: set[int]) -> View:
    """/categories with, next to each category's button, Subscribe (or Unsubscribe)."""
    view = render.categories(language, found)
    rows = tuple(
        (
            Button(render.category_label(language, c), OpenCategory(c.id)),
            Button(plain(language, "btn_unsubscribe_short"), Unsubscribe(c.id))
            if c.id in subscribed
            else Button(plain(language, "btn_subscribe"), Subscribe(c.id)),
        )
        for c in found[: render.MAX_CATEGORY_BUTTONS]
    )
    return View(view.text, rows)


def status(language: str, found: Status) -> View:
    """/stats for admins: counts, the queue, and the first feeds that fail (with their reason);
    `newsbot stats` lists them all."""
    lines = [
        t(language, "stats_title"),
        t(
            language,
            "stats_body",
            articles=format_number(found.articles, language),
            feeds=found.feeds,
            failing=found.feeds_failing,
            chats=format_number(found.chats, language),
            inactive=found.chats_deactivated,
            subscriptions=format_number(found.subscriptions, language),
            pending=format_number(found.queued("pending"), language),
            sending=format_number(found.queued("sending"), language),
            sent=format_number(found.queued("sent"), language),
            failed=format_number(found.queued("failed"), language),
        ),
    ]
    for feed in found.problems[:MAX_FAILING_FEEDS]:
        state = plain(language, "feed_disabled") if feed.disabled else str(feed.failures)
        lines.append(
            Html(
                f"⚠️ {escape(clip(feed.url, 80))} — {escape(state)}: "
                f"{escape(clip(feed.reason, 120))}"
            )
        )
    return View(Html("\n".join(lines)))
