"""Views of subscriptions and of what the sender pushes: a new article, a digest page, the list
of a chat's subscriptions and its delivery settings. Pure functions like `bot.chat.render`
(whose helpers they share), so the shell and the tests draw the same messages.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.chat import render
from bot.chat.callbacks import (
    FormatPage,
    OpenCategory,
    OpenFullText,
    OpenSummary,
    SetDelivery,
    SetFormat,
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
    safe_url,
    source,
    tg_len,
)
from bot.models import Article, Category, Subscription
from bot.services.admin import Status
from bot.services.articles import Summary
from bot.services.publishing import (
    DEFAULT_FORMAT,
    MAX_POST_SENTENCES,
    PICTURE_MODES,
    SILENT_MODES,
    SWITCHES,
    PostFormat,
)
from bot.services.subscriptions import DeliverySettings, DigestPage
from bot.text import html_to_text

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


# Telegram's limit for a photo's caption, counted on the text after entity parsing.
MAX_CAPTION = 1024


@dataclass(frozen=True, slots=True)
class Post:
    """A pushed article as it goes out: `view` is the text, or the caption of `photo` (a
    picture's URL for sendPhoto); `preview` is the URL of a large link preview shown above the
    text (None: previews off)."""

    view: View
    photo: str | None = None
    preview: str | None = None


def caption_len(text: str) -> int:
    """A caption's length as Telegram counts it: UTF-16 code units of the text once its
    entities are parsed (tags gone, `&lt;` one character)."""
    return tg_len(html_to_text(text))


def hashtag(category: str) -> str | None:
    """A category as a #hashtag: accents kept, spaces and what cannot be in a hashtag removed
    ("Économie & finances" -> "#Économiefinances"); None when no letter is left."""
    tag = "".join(c for c in clip(category, 60) if c.isalnum() or c == "_")
    if not any(c.isalpha() for c in tag):
        return None
    return f"#{tag}"


def post(
    language: str,
    article: Article,
    sentences: Sequence[str],
    fmt: PostFormat = DEFAULT_FORMAT,
    category_id: int | None = None,
    *,
    picture_refused: bool = False,
    room: int = MAX_MESSAGE,
) -> Post:
    """The one renderer of a pushed article: what the chat's format shows, as a photo with the
    post as its caption (when the article has a picture, the chat wants pictures, and at least
    the heading fits 1,024 characters: the summary is cut at a sentence boundary to fit), or
    as text (at most 4,096), with a large link preview of the article above it when the chat
    chose that or when Telegram refused the picture (`picture_refused`)."""
    rows = _article_buttons(language, article, category_id)
    url = safe_url(article.url)
    photo = safe_url(article.image)
    if fmt.picture == "photo" and photo and not picture_refused:
        text = _post_text(language, article, sentences, fmt, MAX_CAPTION, caption_len)
        if text is not None:
            return Post(View(text, rows), photo=photo)
    text = _post_text(language, article, sentences, fmt, room, tg_len)
    assert text is not None  # the heading is far shorter than a message
    preview = url if url and (fmt.picture == "preview" or picture_refused) else None
    return Post(View(text, rows), preview=preview)


def _post_text(
    language: str,
    article: Article,
    sentences: Sequence[str],
    fmt: PostFormat,
    limit: int,
    measure: Callable[[str], int],
) -> Html | None:
    """The post's HTML with as many of *sentences* (whole) as fit *limit*; None when not even
    the heading and the link do."""
    head: list[str] = []
    tag = hashtag(article.category) if fmt.hashtags and article.category else None
    if tag:
        head.append(f"🆕 {escape(tag)}")
    elif article.category:
        head.append(t(language, "push_new", category=clip(article.category, 60)))
    if fmt.title:
        head.append(f"<b>{article.id} · {escape(clip(article.title, 300))}</b>")
    meta = [
        clip(article.author, 40) if fmt.author and article.author else "",
        clip(article.site_name or source(article) or "", 40) if fmt.source else "",
        format_date(article.when, language),
    ]
    head.append(f"<i>{escape(' · '.join(m for m in meta if m))}</i>")
    tail: list[str] = []
    url = safe_url(article.url)
    if fmt.link and url:
        tail.append(f'<a href="{html.escape(url, quote=True)}">{t(language, "post_read")}</a>')
    if fmt.signature:
        tail.append(escape(clip(fmt.signature, 200)))
    blocks = ["\n".join(head)]
    ending = ["\n".join(tail)] if tail else []
    if measure("\n\n".join(blocks + ending)) > limit:
        return None
    kept: list[str] = []
    for sentence in sentences[: fmt.sentences(len(sentences))]:
        candidate = [*kept, f"• {escape(sentence)}"]
        if measure("\n\n".join(blocks + candidate + ending)) > limit:
            break
        kept = candidate
    return Html("\n\n".join(blocks + kept + ending))


def delivery(language: str, result: Summary, category_id: int | None = None) -> View:
    """A new article of a subscribed category, as text in the default format."""
    return post(language, result.article, result.sentences, _TEXT, category_id).view


def delivery_without_summary(
    language: str, article: Article, category_id: int | None = None
) -> View:
    """A new article whose text is too short to summarize: its heading and buttons."""
    return post(language, article, (), _TEXT, category_id).view


_TEXT = PostFormat(picture="text")


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
        key = "delivery_quiet_silent" if settings.silent == "quiet" else "delivery_quiet"
        quiet = t(language, key, start=settings.quiet[0], end=settings.quiet[1])
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


# -- the post format --------------------------------------------------------------------------


def _tick(label: str, chosen: bool) -> str:
    return f"✓ {label}" if chosen else label


def format_summary(language: str, fmt: PostFormat, chat_sentences: int) -> Html:
    """What the chat's posts show, in a few lines (the Format page, the answer to /format)."""
    shown = [plain(language, f"field_{name}") for name in SWITCHES if getattr(fmt, name)]
    lines = [
        t(language, "format_title"),
        t(language, "format_shown", fields=", ".join(shown) or plain(language, "format_nothing")),
        t(
            language,
            "format_summary",
            count=plural(language, "sentences", fmt.sentences(chat_sentences)),
        ),
        t(language, "format_signature", signature=fmt.signature)
        if fmt.signature
        else t(language, "format_no_signature"),
        t(language, f"format_picture_{fmt.picture}"),
        t(language, f"format_silent_{fmt.silent}"),
    ]
    return Html("\n".join(lines))


def silent_row(language: str, fmt: PostFormat) -> Row:
    """Silent posts: never, always, or during quiet hours instead of holding them."""
    return tuple(
        Button(
            _tick(plain(language, f"btn_silent_{mode}"), mode == fmt.silent),
            SetFormat("silent", mode),
        )
        for mode in SILENT_MODES
    )


def format_page(
    language: str,
    fmt: PostFormat,
    chat_sentences: int,
    sample: Article | None,
    sentences: Sequence[str] = (),
) -> View:
    """The Format page of /settings: the chat's format, a live preview of the next post (drawn
    by the same renderer from *sample*, the newest article), and a button per choice."""
    head = format_summary(language, fmt, chat_sentences)
    if sample is None:
        text = Html(f"{head}\n\n{t(language, 'format_no_article')}")
    else:
        intro = Html(f"{head}\n\n{t(language, 'format_preview')}\n")
        room = MAX_MESSAGE - tg_len(intro)
        preview = post(language, sample, sentences, fmt, room=room)
        text = Html(f"{intro}{preview.view.text}")
    switches = tuple(
        Button(
            _tick(plain(language, f"btn_field_{name}"), bool(getattr(fmt, name))),
            SetFormat(name, "off" if getattr(fmt, name) else "on"),
        )
        for name in SWITCHES
    )
    count = fmt.sentences(chat_sentences)
    summary = tuple(
        Button(
            _tick(plain(language, "btn_summary_n", n=n), n == count), SetFormat("summary", str(n))
        )
        for n in range(MAX_POST_SENTENCES + 1)
    )
    pictures = tuple(
        Button(
            _tick(plain(language, f"btn_picture_{mode}"), mode == fmt.picture),
            SetFormat("picture", mode),
        )
        for mode in PICTURE_MODES
    )
    back = (Button(plain(language, "btn_back_settings"), FormatPage("s")),)
    return View(text, (switches, summary, pictures, silent_row(language, fmt), back))


def format_button(language: str) -> Row:
    """The /settings button that opens the Format page."""
    return (Button(plain(language, "btn_format"), FormatPage("f")),)
