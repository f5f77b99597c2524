"""The sender's outbox: renders a queued delivery and sends it, turning Telegram's answers into
`Outcome`s the sender records (see `bot.deliver.sender`).

Every Telegram failure a broadcast meets has one outcome here: flood control (429) pauses the
sender for `retry_after`; "Forbidden" (bot blocked, kicked) and "chat not found" make the chat
gone; a forum topic closed or deleted ("message thread not found", TOPIC_CLOSED) is
"topic_gone" (the sender stops that topic's subscriptions and the outbox tells the group
once, in its General topic); a group upgraded to a supergroup is "moved" to its new id;
refused HTML is resent as plain text (by `replies.send`); a timeout before the request was
written is retried, one after it was written is "unconfirmed" (Telegram may have delivered it
and has no way to ask, so it is not sent twice); other network and server errors are retried.

A post is drawn by the one renderer (`render_delivery.post`) in the chat's format: a photo with
the post as its caption when the article has a picture, else text. When Telegram refuses the
picture (it could not fetch it, or it is not an image it can use), the same post goes at once
as text with a large preview of the article: the chat gets the article once, the delivery is
recorded either way, and the picture is dropped from the article so no chat is offered it again.
Posts are silent (`disable_notification`) when the chat says always, or during its quiet hours
when it chose silent posts over holding them (the sender's `ClaimedDelivery.silent`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import httpx
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.chat import render_delivery as views
from bot.chat import render_feeds
from bot.chat.application import WatchedRequest, file_url
from bot.chat.render import View
from bot.chat.render_delivery import Post
from bot.chat.replies import (
    PLAIN_LINK,
    picture_refused,
    plain_if_refused,
    post_parameters,
    send,
    send_post,
)
from bot.chat.transport import BotAPIRequest, PreparedJSON
from bot.config import TelegramConfig
from bot.deliver.sender import MAX_IN_FLIGHT, SENT, Outcome
from bot.errors import NotFound, SummaryError
from bot.models import Article, ClaimedDelivery
from bot.services.articles import ArticleService
from bot.services.chats import ChatService
from bot.services.feeds import FeedAlert
from bot.services.publishing import PostFormat, format_of
from bot.services.subscriptions import SubscriptionService

log = logging.getLogger(__name__)

# Connections the sender keeps to the Bot API: one per request it keeps in flight, enough for
# 30/s (or several hundred/s with paid broadcasts) over a real network's round trips.
SENDER_CONNECTIONS = MAX_IN_FLIGHT

# The methods whose answer (the sent message) `SenderBot` does not parse.
_SENDS = frozenset({"sendMessage", "sendPhoto"})
# Telegram's free broadcast rate, messages per second for the whole bot. Above it a message
# must say `allow_paid_broadcast` (up to 1,000/s, each such message paid for in Telegram Stars
# from the bot's balance), or Telegram answers 429.
FREE_BROADCAST_RATE = 30.0


def paid_broadcast(messages_per_second: float) -> bool:
    """Whether a sender configured for *messages_per_second* must send paid broadcasts."""
    return messages_per_second > FREE_BROADCAST_RATE


# Errors that say the chat will never accept a message again.
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "have no rights to send")
# Errors that say a forum topic is closed or deleted: its subscriptions stop, not the chat's.
_TOPIC_GONE = ("message thread not found", "topic_closed", "topic_deleted")


# Posts kept by `TelegramOutbox._article_view`: more than the ways chats want one article.
MAX_VIEWS = 256
# (article id, language, summary sentences, algorithm, format).
_ViewKey = tuple[int, str, int, str, PostFormat]


@dataclass(frozen=True, slots=True)
class _Ready:
    """A rendered post, and the text it falls back to if Telegram refuses its picture."""

    article_id: int
    post: Post
    fallback: Post | None
    always_silent: bool


def _render(
    language: str,
    article: Article,
    sentences: tuple[str, ...],
    fmt: PostFormat,
    category_id: int | None,
) -> tuple[Post, Post | None]:
    """A post, and the text it falls back to if Telegram refuses its picture (drawn once per
    broadcast and way of wanting it: `TelegramOutbox._article_view` keeps them)."""
    post = views.post(language, article, sentences, fmt, category_id)
    if post.photo is None:
        return post, None
    return post, views.post(language, article, sentences, fmt, category_id, picture_refused=True)


class SenderBot(Bot):
    """The sender's Bot: a message it sends is answered True once Telegram accepted it, not
    turned into a `Message` that nobody reads (`Message.de_json` of every answer was a fifth of
    the sender's time per message at 1,000 messages/s). Refusals raise as from any Bot.
    With `paid_broadcast`, every message it sends asks Telegram for a paid broadcast
    (`allow_paid_broadcast`): the sender's rate is above the free 30/s.

    A post goes out by `push`, its JSON encoded once for every chat it goes to."""

    # Encoded posts kept (see `push`): a broadcast sends one post, in a few formats, at a time.
    ENCODED_POSTS = 256

    def __init__(self, *args: Any, paid_broadcast: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._paid_broadcast = paid_broadcast  # "_": PTB freezes a Bot's public attributes
        # (id of the post, parse mode, silent, topic) -> (the post, method, JSON body after
        # its chat_id); the post is kept to tell it from a later one with the same id.
        self._encoded: dict[tuple[int, str | None, bool, int | None], tuple[Post, str, bytes]] = {}

    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if self._paid_broadcast and endpoint in _SENDS:
            data = {**(data or {}), "allow_paid_broadcast": True}
        result = await super()._post(endpoint, data, **kwargs)
        return True if endpoint in _SENDS and isinstance(result, dict) else result

    async def push(
        self, chat_id: int, post: Post, *, silent: bool = False, thread_id: int | None = None
    ) -> None:
        """Send *post* as `replies.send_post` does: the same method and parameters
        (`replies.post_parameters`), the same plain-text fallback, the same errors raised by
        PTB's `BaseRequest.post`. But its JSON body is encoded once for every chat it goes to,
        not built by PTB for each (its `RequestParameter`s, defaults, a `stat` of the photo URL
        in case it names a local file, `json.dumps` of the whole text): that was a fifth of the
        sender's time per message at 1,000 messages/s. Behind a proxy (the sender's HTTP goes
        through httpx, see `open_outbox`) it is `send_post` itself."""
        request = self._request[1]
        if not isinstance(request, BotAPIRequest):
            await send_post(
                self, chat_id, post.view, photo=post.photo, preview=post.preview,
                silent=silent, thread_id=thread_id,
            )  # fmt: skip
            return
        url = self._base_url

        async def attempt(text: str, parse_mode: str | None) -> None:
            method, tail = self._encode(post, text, parse_mode, silent, thread_id)
            body = b'{"chat_id":%d,%s' % (chat_id, tail)
            await request.post(f"{url}/{method}", PreparedJSON(body))

        await plain_if_refused(attempt, post.view.text, links=None if post.photo else PLAIN_LINK)

    def _encode(
        self, post: Post, text: str, parse_mode: str | None, silent: bool, thread_id: int | None
    ) -> tuple[str, bytes]:
        """The method and the JSON body after `{"chat_id":N,` of *post* sent as *text*."""
        key = (id(post), parse_mode, silent, thread_id)
        found = self._encoded.get(key)
        if found is not None and found[0] is post:
            return found[1], found[2]
        method, params = post_parameters(
            text, parse_mode, post.view.rows, photo=post.photo, preview=post.preview,
            silent=silent, thread_id=thread_id,
        )  # fmt: skip
        if self._paid_broadcast:
            params["allow_paid_broadcast"] = True
        tail = json.dumps(params, ensure_ascii=False).encode()[1:]  # never "{}": a text at least
        if len(self._encoded) >= self.ENCODED_POSTS:
            self._encoded.clear()
        self._encoded[key] = (post, method, tail)
        return method, tail


class TelegramOutbox:
    """See the module docstring. Build it with `open_outbox` for a running bot."""

    def __init__(
        self,
        bot: Bot,
        articles: ArticleService,
        chats: ChatService,
        subscriptions: SubscriptionService,
    ) -> None:
        self.bot = bot
        self.articles = articles
        self.chats = chats
        self.subscriptions = subscriptions
        # Delivery id -> its message, rendered before its send slot (`prepare_article`).
        self._prepared: dict[int, _Ready | Outcome] = {}
        # Pictures Telegram refused in this process: not offered again, even by a post
        # rendered before the store forgot them.
        self._refused: set[str] = set()
        # The post of an article for each way a chat may want it, drawn or being drawn (see
        # `_article_view`), with the article as read.
        self._views: dict[_ViewKey, asyncio.Task[tuple[Article | None, _Ready | Outcome]]] = {}

    async def prepare_article(self, claim: ClaimedDelivery) -> None:
        self._prepared[claim.id] = await self._article_view(claim)

    async def send_article(self, chat_id: int, article_id: int, claim: ClaimedDelivery) -> Outcome:
        ready = self._prepared.pop(claim.id, None) or await self._article_view(claim)
        if isinstance(ready, Outcome):
            return ready
        silent = claim.silent or ready.always_silent
        post = ready.post
        if post.photo is not None and post.photo in self._refused:
            post = ready.fallback or post
        outcome = await self._send_post(chat_id, post, silent, claim.thread_id)
        if (
            post.photo is not None
            and outcome.kind == "failed"
            and picture_refused(outcome.error or "")
            and ready.fallback is not None
        ):
            log.info("Telegram refused the picture of article %s: %s", article_id, outcome.error)
            self._refused.add(post.photo)
            self._views.clear()
            await self.subscriptions.picture_refused(article_id, post.photo)
            outcome = await self._send_post(chat_id, ready.fallback, silent, claim.thread_id)
        return outcome

    async def _article_view(self, claim: ClaimedDelivery) -> _Ready | Outcome:
        """The post of the claim's article in the chat's language and format. A broadcast
        draws it once for all the chats that want it the same way (the language, summary
        length and algorithm, and format their settings give), and again only for a new copy
        of the article (read again from the store) or after a refused picture. The chats
        claimed together wait for the one drawing: each reading the article, its summary and
        its category at once was hundreds of store reads at the start of every broadcast, and
        drawing the post for every chat a fifth of the sender's time per message."""
        prefs = self.chats.preferences_of(claim.chat_id, claim.language, claim.settings)
        fmt = format_of(claim.settings)
        count = fmt.sentences(prefs.sentences)
        key = (claim.article_id, prefs.language, count, prefs.algorithm if count else "", fmt)
        drawing = self._views.get(key)
        if drawing is not None and drawing.done():
            drawn = None if drawing.cancelled() or drawing.exception() else drawing.result()
            if drawn is not None and drawn[0] is not None:
                try:
                    current = await self.articles.article(claim.article_id)
                except NotFound:
                    return Outcome("failed", "the article no longer exists")
                if current is drawn[0]:
                    return drawn[1]
            drawing = None
        if drawing is None:
            if len(self._views) >= MAX_VIEWS:
                self._views.clear()
            drawing = asyncio.create_task(self._draw(claim.article_id, *key[1:4], fmt))
            self._views[key] = drawing
        # Shielded: a chat's task stopped while waiting does not stop the others' post.
        article, ready = await asyncio.shield(drawing)
        if article is None and self._views.get(key) is drawing:
            del self._views[key]  # no such article: asked again next time
        return ready

    async def _draw(
        self, article_id: int, language: str, count: int, algorithm: str, fmt: PostFormat
    ) -> tuple[Article | None, _Ready | Outcome]:
        """The article as read, and its post."""
        try:
            read = await self.articles.article(article_id)
        except NotFound:
            return None, Outcome("failed", "the article no longer exists")
        article = read
        if article.image is not None and article.image in self._refused:
            article = replace(article, image=None)
        category_id = await self._category_id(article.category)
        sentences: Sequence[str] = ()
        if count:
            try:
                result = await self.articles.summary(
                    article_id, sentences=count, algorithm=algorithm
                )
                sentences = result.sentences
            except SummaryError:
                pass  # too short to summarize: the heading and buttons
        post, fallback = _render(language, article, tuple(sentences), fmt, category_id)
        return read, _Ready(article.id, post, fallback, fmt.silent == "always")

    async def send_digest(
        self, chat_id: int, digest_id: int, article_ids: Sequence[int], claim: ClaimedDelivery
    ) -> Outcome:
        prefs = self.chats.preferences_of(chat_id, claim.language, claim.settings)
        page = await self.subscriptions.digest_page(digest_id, 1, prefs)
        silent = claim.silent or format_of(claim.settings).silent == "always"
        view = views.digest(prefs.language, page)
        return await self._attempt(
            chat_id,
            lambda: send_post(self.bot, chat_id, view, silent=silent, thread_id=claim.thread_id),
            claim.thread_id,
        )

    async def topic_closed(
        self, chat_id: int, categories: Sequence[str], claim: ClaimedDelivery
    ) -> Outcome:
        prefs = self.chats.preferences_of(chat_id, claim.language, claim.settings)
        # To the chat itself (its General topic), where its admins see it.
        return await self._send(chat_id, views.topic_closed(prefs.language, categories))

    async def tell_admins(self, admins: Sequence[int], alerts: Sequence[FeedAlert]) -> None:
        """Each alert to each of the bot's admins, in their private chat and language (an
        admin who never started the bot cannot be written to: logged, not retried)."""
        for admin in admins:
            prefs = await self.chats.preferences(admin)
            for alert in alerts:
                outcome = await self._send(admin, render_feeds.alert(prefs.language, alert))
                if outcome.kind != "sent":
                    log.warning(
                        "could not tell admin %s of feed %s: %s",
                        admin,
                        alert.feed.id,
                        outcome.error,
                    )

    async def close(self) -> None:
        """Close the bot's connections."""
        await self.bot.shutdown()

    async def _category_id(self, name: str | None) -> int | None:
        """The id of a category for its Unsubscribe button (the category list is cached)."""
        if not name:
            return None
        # The service's category cache: not one store read per message.
        found = await self.articles.find_category(name)
        return found.id if found else None

    async def _send_post(
        self, chat_id: int, post: Post, silent: bool, thread_id: int | None = None
    ) -> Outcome:
        bot = self.bot
        if isinstance(bot, SenderBot):
            return await self._attempt(
                chat_id,
                lambda: bot.push(chat_id, post, silent=silent, thread_id=thread_id),
                thread_id,
            )
        return await self._attempt(
            chat_id,
            lambda: send_post(
                bot,
                chat_id,
                post.view,
                photo=post.photo,
                preview=post.preview,
                silent=silent,
                thread_id=thread_id,
            ),
            thread_id,
        )

    async def _send(self, chat_id: int, view: View, thread_id: int | None = None) -> Outcome:
        return await self._attempt(
            chat_id, lambda: send(self.bot, chat_id, view, thread_id=thread_id), thread_id
        )

    async def _attempt(
        self,
        chat_id: int,
        sending: Callable[[], Awaitable[object]],
        thread_id: int | None = None,
    ) -> Outcome:
        """Send, and Telegram's answer as an `Outcome` (see the module docstring)."""
        try:
            await sending()
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB warns that it will be a timedelta: both work
                warnings.simplefilter("ignore")
                wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return Outcome(
                "retry", f"flood control: retry after {seconds:g} s", retry_after=seconds
            )
        except ChatMigrated as exc:
            # The sender moves the chat in the store next; neither id's cached preferences may
            # outlive that. Forgetting them now is enough: a read in between finds no row under
            # the new id and creates one, which then wins over the old one's in the move.
            self.chats.forget(chat_id)
            self.chats.forget(exc.new_chat_id)
            return Outcome("moved", "the group became a supergroup", new_chat_id=exc.new_chat_id)
        except Forbidden as exc:
            return Outcome("gone", exc.message)
        except BadRequest as exc:
            if thread_id is not None and any(m in exc.message.lower() for m in _TOPIC_GONE):
                return Outcome("topic_gone", exc.message)
            if any(marker in exc.message.lower() for marker in _GONE):
                return Outcome("gone", exc.message)
            return Outcome("failed", exc.message)
        except TimedOut as exc:
            # Written, unanswered: httpx's ReadTimeout, or the sender's transport's TimeoutError.
            if isinstance(exc.__cause__, httpx.ReadTimeout | TimeoutError):
                return Outcome("unconfirmed", "no answer from Telegram after sending; not resent")
            return Outcome("retry", f"timed out before sending: {exc.message}")
        except NetworkError as exc:
            return Outcome("retry", exc.message)
        return SENT


async def open_outbox(
    telegram: TelegramConfig,
    articles: ArticleService,
    chats: ChatService,
    subscriptions: SubscriptionService,
    *,
    on_answer: Callable[[], None] | None = None,
    paid_broadcast: bool = False,
) -> TelegramOutbox:
    """An outbox on a Bot of its own: not the Application's, whose rate limiter would retry
    flood errors out of the sender's sight and pace every message twice (the sender paces
    itself), and whose connection pool the handlers' replies need. Close it with `close()`.
    `on_answer` is told of every answer of the Bot API (see `WatchedRequest`); with
    `paid_broadcast` every message is sent as a paid broadcast (see `SenderBot`)."""
    request: BaseRequest
    if not _behind_proxy(telegram.api_base_url):
        request = BotAPIRequest(SENDER_CONNECTIONS, on_answer=on_answer)
    elif on_answer is None:
        request = HTTPXRequest(connection_pool_size=SENDER_CONNECTIONS)
    else:
        request = WatchedRequest(on_answer, connection_pool_size=SENDER_CONNECTIONS)
    bot = SenderBot(
        telegram.token,
        base_url=telegram.api_base_url,
        base_file_url=file_url(telegram.api_base_url),
        request=request,
        paid_broadcast=paid_broadcast,
    )
    await bot.initialize()
    return TelegramOutbox(bot, articles, chats, subscriptions)


def _behind_proxy(url: str) -> bool:
    """Whether the environment sends requests to *url* through a proxy (`HTTPS_PROXY`,
    `ALL_PROXY`... unless `NO_PROXY` names the host), as httpx, and so PTB, honours it: the
    sender then goes through httpx too, its own connections being direct ones only."""
    parts = urlsplit(url)
    proxies = getproxies()
    if parts.scheme not in proxies and "all" not in proxies:
        return False
    return not proxy_bypass(parts.hostname or "")
