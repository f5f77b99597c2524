"""Who is pushed which article: the subscription filter grammar, what a filter matches, and which
articles are news to push. Pure: no I/O, the facts are passed in.

Filters ("+word" must appear, "-word" must not, "word" is "+word"):

- `parse_filters` turns what a user typed into the stored form, refusing anything that is not a
  plain word (`BadFilter`) and more than `MAX_FILTERS` of them (`TooManyFilters`);
- `filters_match` says whether an article's folded title and text pass them: case- and
  accent-insensitively, at the start of a word ("+élection" matches "élections", not
  "réélection"), several words of one filter in that order ("+donald trump").

Pushing (`PushRules`, the store's `bot.store.contract.Audience`): an article goes to a
subscriber of its category when

- it was not published more than `push_max_age` before it arrived (an archive being imported is
  stored for reading and search, but is not news to push);
- the subscription existed when the article arrived (a subscription gets what is stored from
  then on, also when a teaser stored earlier gets its category later);
- it passes the subscription's filters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import DeliveryConfig
from bot.errors import BadFilter, TooManyFilters
from bot.models import Subscriber
from bot.text import fold

# Filters on one subscription, and the longest filter word: enough for any real use, and a
# bound on the matching work each new article costs.
MAX_FILTERS = 10
MAX_FILTER_LENGTH = 40
# Articles published longer than this before they arrive are not pushed.
PUSH_MAX_AGE = timedelta(days=2)
_FILTER = re.compile(r"([+-]?)(\w[\w'’-]*)")


# -- the filter grammar ------------------------------------------------------------------------


def parse_filters(words: Sequence[str]) -> tuple[str, ...]:
    """ "+word", "-word" or "word" (same as "+word") → ("+word", "-word", ...); BadFilter for
    anything else (patterns, punctuation, too long), TooManyFilters for too many."""
    filters: list[str] = []
    for raw in words:
        match = _FILTER.fullmatch(raw.strip())
        if match is None or len(match.group(2)) > MAX_FILTER_LENGTH:
            raise BadFilter(raw)
        item = f"{match.group(1) or '+'}{match.group(2)}"
        if item not in filters:
            filters.append(item)
    if len(filters) > MAX_FILTERS:
        raise TooManyFilters(MAX_FILTERS)
    return tuple(filters)


@functools.lru_cache(maxsize=1024)
def _filter_patterns(
    filters: tuple[str, ...],
) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
    required: list[re.Pattern[str]] = []
    excluded: list[re.Pattern[str]] = []
    for raw in filters:
        term = raw.strip()
        sign = term[:1]
        word = fold(term[1:] if sign in "+-" else term)
        if not word:
            continue
        # At a word start, like search: "+élection" matches "élections", not "réélection".
        pattern = re.compile(r"(?<!\w)" + re.escape(word))
        (excluded if sign == "-" else required).append(pattern)
    return required, excluded


def filters_match(filters: Sequence[str], folded_text: str) -> bool:
    """Whether a text passes a subscription's word filters.

    `folded_text` is `fold(title + "\n" + text)`. Each "+word" (or plain "word") must occur and
    each "-word" must not, matched case- and accent-insensitively at the start of a word, so
    "+élection" also matches "élections". A filter may hold several words ("+donald trump"):
    they must then appear in that order. No filters: everything passes.
    """
    required, excluded = _filter_patterns(tuple(filters))
    return all(p.search(folded_text) for p in required) and not any(
        p.search(folded_text) for p in excluded
    )


# -- who is pushed what ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushRules:
    """The store's `Audience`: which subscribers of an article's category it is pushed to."""

    push_max_age: timedelta = PUSH_MAX_AGE

    @classmethod
    def from_config(cls, config: DeliveryConfig) -> PushRules:
        """The rules `[delivery] push_max_age_hours` sets."""
        return cls(push_max_age=timedelta(hours=config.push_max_age_hours))

    def is_news(self, published: datetime | None, arrived: datetime) -> bool:
        """Whether an article published at *published* (None: unknown, taken as new) was
        still news when it arrived at *arrived*."""
        return published is None or published >= arrived - self.push_max_age

    def recipients(
        self,
        *,
        title: str,
        text: str,
        published: datetime | None,
        arrived: datetime,
        subscribers: Sequence[Subscriber],
    ) -> list[int]:
        """The chat ids, in the order of *subscribers*, to push an article to: one that
        arrived (was stored) at *arrived*, published at *published*, with this title and text,
        among the active subscribers of its category."""
        if not subscribers or not self.is_news(published, arrived):
            return []
        folded: str | None = None
        chosen: list[int] = []
        for subscriber in subscribers:
            if subscriber.subscribed_at > arrived:
                continue
            if subscriber.filters:
                if folded is None:  # folding a whole body costs: only when filtered
                    folded = fold(f"{title}\n{text}")
                if not filters_match(subscriber.filters, folded):
                    continue
            chosen.append(subscriber.chat_id)
        return chosen
