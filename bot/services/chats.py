"""A chat's preferences: interface language, summary length and algorithm.

Every update needs them, so they are cached in memory and written through. This process is not
the only writer of chat rows (several bot processes may share one PostgreSQL store, and the
sender moves a group that became a supergroup), so an entry lives `cache_ttl` at most (30 s
by default, on the program's monotonic clock): a change made elsewhere is seen within that
time. `forget` drops an entry at once (a migrated chat). Values read back are checked, so a
hand-edited row falls back to the defaults instead of breaking the chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import TTLCache

from bot.clock import Clock
from bot.config import SummaryConfig
from bot.errors import BadArgument
from bot.models import INTERFACE_LANGUAGES, Chat
from bot.store.contract import ChatStore
from bot.summarize import ALGORITHMS, word_budget

# The lengths a chat can pick: at most that many whole sentences, within `summary_words` words.
SUMMARY_LENGTHS: tuple[int, ...] = (1, 3, 5)
MAX_SENTENCES = 20


def summary_words(sentences: int, language: str | None = None) -> int:
    """The word budget of a summary of at most `sentences` sentences of an article in
    `language` (None: the general figure), for labels that say what a length means."""
    return word_budget(sentences, language)


def language_for(language_code: str | None) -> str:
    """The interface language for a Telegram `language_code`: French for fr*, else English."""
    if language_code and language_code.lower().startswith("fr"):
        return "fr"
    return "en"


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a chat chose, with the configured defaults filled in."""

    chat_id: int
    language: str
    sentences: int
    algorithm: str


class ChatService:
    """Chat preferences, created on first contact from the user's Telegram language."""

    def __init__(
        self,
        store: ChatStore,
        defaults: SummaryConfig,
        *,
        clock: Clock,
        cache_size: int = 10_000,
        cache_ttl: float = 30.0,
    ):
        self.store = store
        self.defaults = defaults
        self.cache_size = cache_size
        self._cache: TTLCache[int, Preferences] = TTLCache(
            maxsize=cache_size, ttl=cache_ttl, timer=clock.monotonic
        )

    def cached(self, chat_id: int) -> Preferences | None:
        """The preferences if already known, without touching the store (for error replies)."""
        return self._cache.get(chat_id)

    async def preferences(self, chat_id: int, language_code: str | None = None) -> Preferences:
        """The chat's preferences; a chat seen for the first time is stored with the language
        of `language_code`."""
        known = self._cache.get(chat_id)
        if known is not None:
            return known
        chat = await self.store.find_chat(chat_id)
        if chat is None:
            chat = await self.store.upsert_chat(chat_id, language=language_for(language_code))
        return self._remember(chat)

    async def set_language(self, chat_id: int, language: str) -> Preferences:
        """Switch the interface language; BadArgument for one we do not speak."""
        if language not in INTERFACE_LANGUAGES:
            raise BadArgument(f"language must be one of {', '.join(INTERFACE_LANGUAGES)}")
        return self._remember(await self.store.upsert_chat(chat_id, language=language))

    async def set_sentences(self, chat_id: int, sentences: int) -> Preferences:
        """Set the default summary length; BadArgument outside 1..20."""
        if not 1 <= sentences <= MAX_SENTENCES:
            raise BadArgument(f"sentences must be from 1 to {MAX_SENTENCES}")
        await self.preferences(chat_id)
        return self._remember(
            await self.store.update_chat_settings(chat_id, sentences=sentences, reschedule=False)
        )

    async def set_algorithm(self, chat_id: int, algorithm: str) -> Preferences:
        """Set the summary algorithm; BadArgument for one the summarizer does not have."""
        if algorithm not in ALGORITHMS:
            raise BadArgument(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        await self.preferences(chat_id)
        return self._remember(
            await self.store.update_chat_settings(chat_id, algorithm=algorithm, reschedule=False)
        )

    def preferences_of(
        self, chat_id: int, language: str, settings: dict[str, object]
    ) -> Preferences:
        """The preferences of a chat row read elsewhere (the sender's claim), without a
        store read."""
        return self._preferences(Chat(chat_id, language, settings))

    def forget(self, chat_id: int) -> None:
        """Drop what is cached of the chat: the next read goes to the store."""
        self._cache.pop(chat_id, None)

    def _remember(self, chat: Chat) -> Preferences:
        prefs = self._preferences(chat)
        self._cache[chat.id] = prefs
        return prefs

    def _preferences(self, chat: Chat) -> Preferences:
        sentences = chat.settings.get("sentences")
        if (
            not isinstance(sentences, int)
            or isinstance(sentences, bool)
            or not 1 <= sentences <= MAX_SENTENCES
        ):
            sentences = self.defaults.sentences
        algorithm = chat.settings.get("algorithm")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            algorithm = self.defaults.algorithm
        language = (
            chat.language if chat.language in INTERFACE_LANGUAGES else language_for(chat.language)
        )
        return Preferences(chat.id, language, sentences, algorithm)
