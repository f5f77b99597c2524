"""Views: what a message shows (Telegram HTML text) and its buttons, from plain values.

Pure functions with no Telegram import, so they are unit-tested directly and the shell draws
the same views. Every view is valid Telegram HTML with all outside text escaped, and at most
`MAX_MESSAGE` long as Telegram counts (UTF-16 code units): long titles are shortened and long
texts paged rather than cut off by Telegram.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.chat.callbacks import (
    Action,
    OpenCategory,
    OpenFullText,
    OpenSummary,
    OpenView,
    SetLanguage,
    SetOption,
    ShowFullText,
    ShowLatest,
    ShowSearch,
    ShowSummary,
)
from bot.chat.i18n import (
    COMMANDS,
    LANGUAGE_NAMES,
    MESSAGES,
    Html,
    escape,
    format_date,
    format_number,
    format_size,
    plain,
    plural,
    quote,
    t,
)
from bot.config import LinksConfig
from bot.models import INTERFACE_LANGUAGES, Article, Category
from bot.services.articles import ArticlePage, Summary, TextPage
from bot.services.chats import SUMMARY_LENGTHS, Preferences, summary_words
from bot.services.links import MAX_URL
from bot.services.sharing import SharedArticle
from bot.text import clean_line
from bot.urls import url_host

MAX_MESSAGE = 4096
# Buttons in the /categories view: Telegram allows 100 per message; beyond a few dozen a
# keyboard stops being usable anyway.
MAX_CATEGORY_BUTTONS = 40
# Ever shorter entries until a page of up to 20 articles fits one message: (title length,
# whether the byline keeps category/author/site besides the date).
_ENTRY_SHAPES = (
    (200, True),
    (120, True),
    (80, True),
    (50, True),
    (30, True),
    (30, False),
    (20, False),
)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: either an action for the bot (callback) or a URL to open."""

    label: str
    action: Action | None = None
    url: str | None = None


Row = tuple[Button, ...]


@dataclass(frozen=True, slots=True)
class View:
    """A message: its HTML text and its rows of buttons."""

    text: Html
    rows: tuple[Row, ...] = ()


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def html_len(raw: str) -> int:
    """Length of raw text once escaped into a message (additive, as paging requires)."""
    return tg_len(escape(raw))


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word and ended with "…" if shortened."""
    line = clean_line(text)
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–—") + "…"


# How much of what a user typed (or of a stored name) a one-line answer echoes: enough to
# recognise it, never enough to push the answer past Telegram's limits.
ECHO = 60


def echo(text: str, limit: int = ECHO) -> str:
    """User input (or a stored name) shown back in an answer: one line, shortened with "…"."""
    return clip(text, limit)


# http(s), a host, then anything but blanks and control characters: what Telegram takes in a
# URL button.
_URL = re.compile(r"(?i:https?)://(?:[^\s/?#@\x00-\x1f]*@)?[^\s/?#:\x00-\x1f]+[^\s\x00-\x1f]*")


def safe_url(url: str | None) -> str | None:
    """The URL if Telegram will accept it in a button (http or https with a host), else None."""
    if not url or len(url) > MAX_URL or _URL.fullmatch(url) is None:
        return None
    return url


def source(article: Article) -> str | None:
    """The site an article comes from, as readers know it ("lemonde.fr"; "[2001:db8::1]" for
    an IPv6 address), from a URL parser: a host is not whatever precedes the first ":"."""
    url = safe_url(article.url)
    if url is None:
        return None
    host = url_host(url)
    if not host:
        return None
    if ":" in host:
        return f"[{host}]"
    return host.removeprefix("www.")


def byline(article: Article, language: str, full: bool = True) -> str:
    """Category · author · site · date, whichever are known (raw text); only the date when
    not `full`."""
    if not full:
        return format_date(article.when, language)
    parts = [
        clip(article.category, 40) if article.category else "",
        clip(article.author, 40) if article.author else "",
        clip(source(article) or "", 40),
        format_date(article.when, language),
    ]
    return " · ".join(p for p in parts if p)


def _heading(
    article: Article, language: str, title_limit: int, extra: str = "", full: bool = True
) -> str:
    meta = byline(article, language, full) + (f" · {extra}" if extra else "")
    return (
        f"<b>{article.id} · {escape(clip(article.title, title_limit))}</b>\n<i>{escape(meta)}</i>"
    )


def _link_button(language: str, article: Article, key: str = "btn_link") -> tuple[Button, ...]:
    url = safe_url(article.url)
    return (Button(plain(language, key), url=url),) if url else ()


# -- welcome and help -------------------------------------------------------------------------


def welcome(language: str, bot_name: str) -> View:
    """The /start message: what the bot does, the main commands, buttons to begin."""
    return View(
        t(language, "welcome", name=bot_name),
        (
            (
                Button(plain(language, "btn_latest"), OpenView("latest")),
                Button(plain(language, "btn_categories"), OpenView("categories")),
            ),
            (Button(plain(language, "btn_settings"), OpenView("settings")),),
        ),
    )


def help_view(language: str, bot_username: str | None = None, *, admin: bool = False) -> View:
    """/help: every command with its arguments, what it does and an example; then links and
    inline mode (`@bot_username words`). The bot's admins also see their own commands."""
    lines = [t(language, "help_title"), ""]
    for doc in COMMANDS[language]:
        if doc.admin and not admin:
            continue
        synopsis = f"/{doc.name} {doc.args}".rstrip()
        examples = " · ".join(f"<code>{escape(e)}</code>" for e in doc.examples)
        lines.append(f"{synopsis} — {doc.help}\n    {examples}")
    lines += [
        "",
        t(language, "help_footer"),
        t(language, "help_links", bot=bot_username or "bot"),
    ]
    return View(Html("\n".join(lines)))


# -- lists of articles ------------------------------------------------------------------------


@lru_cache(maxsize=256)
def article_list(language: str, page: ArticlePage) -> View:
    """A page of latest articles or search results: number, title, byline; a row of buttons
    per article (summary, text, link) and paging buttons that edit the message.

    Cached: the service hands out the same page object to every reader for a few seconds.
    """
    if page.query is not None:
        title = t(language, "search_title", query=quote(language, clip(page.query, 40)))
    elif page.category is not None:
        title = t(language, "category_title", category=clip(page.category.name, 60))
    else:
        title = t(language, "latest_title")
    if page.total is not None:
        count = t(
            language,
            "range_total",
            first=page.first,
            last=page.last,
            total=format_number(page.total, language),
        )
    else:
        count = t(language, "range", first=page.first, last=page.last)
    header = f"{title} · {count}"
    for limit, full in _ENTRY_SHAPES:
        entries = [_heading(a, language, limit, full=full) for a in page.articles]
        text = "\n\n".join([header, *entries])
        if tg_len(text) <= MAX_MESSAGE:
            break
    rows: list[Row] = [
        (
            Button(plain(language, "btn_summary", id=a.id), OpenSummary(a.id)),
            Button(plain(language, "btn_text"), OpenFullText(a.id)),
            *_link_button(language, a),
        )
        for a in page.articles
    ]
    paging = _paging(language, page)
    if paging:
        rows.append(paging)
    return View(Html(text), tuple(rows))


def _paging(language: str, page: ArticlePage) -> Row:
    newer = max(0, page.offset - page.size)
    older = page.offset + page.size
    target: tuple[Action, Action]
    if page.query is not None:
        target = (
            ShowSearch(page.query, newer, page.size),
            ShowSearch(page.query, older, page.size),
        )
    else:
        category_id = page.category.id if page.category else None
        target = (
            ShowLatest(newer, page.size, category_id),
            ShowLatest(older, page.size, category_id),
        )
    buttons = []
    if page.offset > 0:
        buttons.append(Button(plain(language, "btn_newer"), target[0]))
    if page.has_more:
        buttons.append(Button(plain(language, "btn_more"), target[1]))
    return tuple(buttons)


def empty_list(language: str, page: ArticlePage) -> View:
    """What /latest or a search says when there is nothing to show."""
    if page.query is not None:
        return View(t(language, "no_results", query=quote(language, clip(page.query, 100))))
    if page.category is not None:
        return View(t(language, "no_articles_category", category=echo(page.category.name)))
    return View(t(language, "no_articles"))


def unknown_category(language: str, name: str, suggestions: Sequence[Category]) -> View:
    """An unknown category: the closest existing ones, as text and as buttons."""
    lines = [t(language, "unknown_category", name=quote(language, clip(name, 60)))]
    if suggestions:
        names = ", ".join(echo(c.name, 40) for c in suggestions)
        lines.append(t(language, "did_you_mean", names=names))
    else:
        lines.append(t(language, "see_categories"))
    rows = tuple((Button(category_label(language, c), OpenCategory(c.id)),) for c in suggestions)
    return View(Html(" ".join(lines)), rows)


# -- categories -------------------------------------------------------------------------------


def category_label(language: str, category: Category) -> str:
    return plain(
        language,
        "btn_category",
        name=clip(category.name, 30),
        count=format_number(category.article_count, language),
    )


def categories(language: str, found: Sequence[Category]) -> View:
    """/categories: each category with its article count and a button to its latest articles.

    `render_delivery.categories` puts a Subscribe button beside each one.
    """
    if not found:
        return View(t(language, "categories_none"))
    lines = [t(language, "categories_title", count=len(found)), ""]
    hint = t(language, "categories_hint")
    shown = 0
    used = tg_len("\n".join(lines)) + tg_len(hint) + 80  # room for the "… and N more" line
    for category in found:
        count = plural(language, "articles", category.article_count)
        line = f"{escape(clip(category.name, 60))} — {escape(count)}"
        if used + tg_len(line) + 1 > MAX_MESSAGE:
            break
        lines.append(line)
        used += tg_len(line) + 1
        shown += 1
    if shown < len(found):
        lines.append(t(language, "categories_more", count=len(found) - shown))
    lines += ["", hint]
    buttons = [
        Button(category_label(language, c), OpenCategory(c.id))
        for c in found[:MAX_CATEGORY_BUTTONS]
    ]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    return View(Html("\n".join(lines)), rows)


# -- one article ------------------------------------------------------------------------------


def length_label(language: str, sentences: int, article_language: str | None = None) -> str:
    """What a summary length means: "1 sentence", "≤ 3 sentences, ~60 words" (the budget of
    the article's language when known)."""
    if sentences == 1:
        return plural(language, "sentences", 1)
    words = summary_words(sentences, article_language)
    return plain(
        language,
        "sentences_budget",
        n=format_number(sentences, language),
        words=format_number(words, language),
    )


def summary(language: str, result: Summary) -> View:
    """An article's summary as bullets, with buttons for 1/3/5 sentences and the full text."""
    article = result.article
    head = "\n".join(
        [
            t(
                language,
                "summary_title",
                length=length_label(language, result.length, article.language),
            ),
            _heading(article, language, 300),
        ]
    )
    body = bullets(result.sentences, tg_len(head))
    lengths = tuple(
        Button(
            ("✓ " if n == result.length else "") + length_label(language, n, article.language),
            ShowSummary(article.id, n),
        )
        for n in SUMMARY_LENGTHS
    )
    actions = (
        Button(plain(language, "btn_full_text"), ShowFullText(article.id, 1)),
        *_link_button(language, article),
    )
    return View(Html("\n\n".join([head, *body])), (lengths, actions))


def no_summary(language: str, article: Article) -> View:
    """An article with too little text to summarize: say so and offer the full text."""
    return View(
        Html(
            _heading(article, language, 300) + "\n\n" + t(language, "summary_none", id=article.id)
        ),
        (
            (
                Button(plain(language, "btn_full_text"), ShowFullText(article.id, 1)),
                *_link_button(language, article),
            ),
        ),
    )


def page_buttons(language: str, number: int, count: int, action: Callable[[int], Action]) -> Row:
    """Previous / Next buttons for page *number* of *count*; `action(n)` shows page n."""
    paging: list[Button] = []
    if number > 1:
        paging.append(Button(plain(language, "btn_previous"), action(number - 1)))
    if number < count:
        paging.append(Button(plain(language, "btn_next"), action(number + 1)))
    return tuple(paging)


def bullets(sentences: Sequence[str], used: int, reserve: int = 0) -> list[str]:
    """Sentences as "• " bullets, each after a blank line, within what is left of a message
    already `used` long, keeping `reserve` for what follows: a sentence that does not fit is
    shortened, and the rest dropped."""
    body: list[str] = []
    for sentence in sentences:
        room = MAX_MESSAGE - used - reserve - 4  # "\n\n• "
        if room < 20:
            break
        bullet = escape(sentence)
        if tg_len(bullet) > room:
            bullet = escape(_fit_raw(sentence, room))
        body.append(f"• {bullet}")
        used += tg_len(bullet) + 4
    return body


def _fit_raw(text: str, room: int) -> str:
    """The longest word-boundary prefix of raw `text` whose escaped form, plus "…", fits."""
    words = text.split()
    kept: list[str] = []
    used = 1
    for word in words:
        cost = html_len(word) + (1 if kept else 0)
        if used + cost > room:
            break
        kept.append(word)
        used += cost
    return " ".join(kept) + "…"


def _full_text_heading(language: str, article: Article, number: int, count: int) -> str:
    page = plain(language, "page", number=number, count=count)
    return "📄 " + _heading(article, language, 300, page)


def full_text_budget(language: str, article: Article) -> int:
    """Room left for the text on a page of /full, measured like `html_len`."""
    return MAX_MESSAGE - tg_len(_full_text_heading(language, article, 9999, 9999)) - 2


def full_text(language: str, page: TextPage) -> View:
    """One page of an article's full text, with Previous/Next buttons that edit the message."""
    article = page.article
    text = _full_text_heading(language, article, page.number, page.count)
    if page.text:
        text += "\n\n" + escape(page.text)
    rows: list[Row] = []
    paging = page_buttons(language, page.number, page.count, lambda n: ShowFullText(article.id, n))
    if paging:
        rows.append(paging)
    rows.append(
        (
            Button(plain(language, "btn_back_summary"), ShowSummary(article.id, 0)),
            *_link_button(language, article),
        )
    )
    return View(Html(text), tuple(rows))


# -- settings ---------------------------------------------------------------------------------


def settings(language: str, prefs: Preferences, algorithms: Sequence[str]) -> View:
    """/settings: the current choices, and buttons to change each one (current one ticked)."""

    def tick(label: str, chosen: bool) -> str:
        return f"✓ {label}" if chosen else label

    text = "\n".join(
        [
            t(language, "settings_title"),
            t(
                language,
                "settings_body",
                length=length_label(language, prefs.sentences),
                algorithm=prefs.algorithm,
                language=LANGUAGE_NAMES[prefs.language],
            ),
        ]
    )
    lengths = tuple(
        Button(tick(length_label(language, n), n == prefs.sentences), SetOption("n", str(n)))
        for n in SUMMARY_LENGTHS
    )
    methods = [
        Button(tick(name, name == prefs.algorithm), SetOption("a", name)) for name in algorithms
    ]
    method_rows = tuple(tuple(methods[i : i + 3]) for i in range(0, len(methods), 3))
    languages = tuple(
        Button(tick(LANGUAGE_NAMES[code], code == prefs.language), SetOption("l", code))
        for code in INTERFACE_LANGUAGES
    )
    return View(Html(text), (lengths, *method_rows, languages))


def language_choice(language: str) -> View:
    """/language without an argument: the current language and a button per language."""
    return View(
        t(language, "language_choose", language=LANGUAGE_NAMES[language]),
        (
            tuple(
                Button(("✓ " if code == language else "") + LANGUAGE_NAMES[code], SetLanguage(code))
                for code in INTERFACE_LANGUAGES
            ),
        ),
    )


def message(language: str, key: str, /, **values: object) -> View:
    """A one-line answer (usage, not found...) with no buttons."""
    return View(t(language, key, **values))


# -- links and inline mode -------------------------------------------------------------------


def link_error(language: str, reason: str, config: LinksConfig, status: int | None = None) -> View:
    """Why a link was not summarized, in a line, without any address (see
    `bot.errors.LINK_REASONS`)."""
    if reason == "port":
        ports = " / ".join(str(p) for p in sorted(config.allowed_ports))
        return message(language, "link_port", ports=ports)
    if reason == "timeout":
        return message(language, "link_timeout", seconds=f"{config.timeout_seconds:g}")
    if reason == "too_large":
        return message(language, "link_too_large", size=format_size(config.max_bytes, language))
    if reason == "too_long":
        return message(language, "link_too_long", max=format_number(MAX_URL, language))
    if reason == "status":
        return message(language, "link_status", status=status or "?")
    if f"link_{reason}" in MESSAGES["en"]:
        return message(language, f"link_{reason}")
    return message(language, "link_bad_response")


def deep_link(bot_username: str, article_id: int) -> str:
    """The t.me link that opens an article in the bot (handled by /start art_<id>)."""
    return f"https://t.me/{bot_username}?start=art_{article_id}"


@dataclass(frozen=True, slots=True)
class InlineArticle:
    """An inline-mode result: what the popup shows (title, plain-text description) and the
    message it posts (HTML text and URL buttons: an inline message cannot use callbacks)."""

    id: str
    title: str
    description: str
    text: Html
    rows: tuple[Row, ...] = ()


def inline_article(language: str, item: SharedArticle, bot_username: str | None) -> InlineArticle:
    """One article to share: title, byline, summary and link; "Read in the bot" opens it."""
    article = item.article
    meta = byline(article, language)
    head = f"<b>{escape(clip(article.title, 300))}</b>\n<i>{escape(meta)}</i>"
    url = safe_url(article.url)
    tail = ""
    if url:
        label = escape(source(article) or clip(url, 60))
        tail = f'🔗 <a href="{html.escape(url, quote=True)}">{label}</a>'
    parts = [head]
    if item.sentences:
        parts += bullets(item.sentences, tg_len(head), tg_len(tail) + 2)
    else:
        budget = MAX_MESSAGE - tg_len(head) - tg_len(tail) - 4
        parts.append(escape(_fit_raw(article.text, min(budget, 600))))
    if tail:
        parts.append(tail)
    first = item.sentences[0] if item.sentences else article.text
    buttons: list[Button] = []
    if bot_username:
        buttons.append(
            Button(plain(language, "btn_read_in_bot"), url=deep_link(bot_username, article.id))
        )
    buttons.extend(_link_button(language, article))
    return InlineArticle(
        id=str(article.id),
        title=clip(article.title, 120),
        description=f"{meta}\n{clip(first, 160)}",
        text=Html("\n\n".join(parts)),
        rows=(tuple(buttons),) if buttons else (),
    )
