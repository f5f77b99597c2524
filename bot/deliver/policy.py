"""When a chat may receive its articles: delivery mode, digest time, quiet hours, pause.

Pure functions over a chat's settings and the current time, so the sender and the tests share
one clock they control. The sender keeps the answer in the chat's `hold_until` column: a chat
whose hold lies in the future is skipped by the queue's claim without reading its settings, and
every settings change clears the hold so the next claim decides again.

Settings keys (all optional, in `chats.settings`): `delivery` ("instant" | "digest"),
`digest_time` ("HH:MM"), `timezone` (IANA name), `quiet` (["HH:MM", "HH:MM"] or absent),
`paused` (bool). Values that do not parse fall back to the configured defaults, so a hand-edited
row never stops a chat's deliveries.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.config import DeliveryConfig

INSTANT = "instant"
DIGEST = "digest"
MODES: tuple[str, ...] = (INSTANT, DIGEST)

# "Paused" as a hold: later than any real time, still a valid timestamp on both backends.
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)

_HHMM = re.compile(r"([01]?\d|2[0-3])[:hH.]([0-5]\d)")


def parse_hhmm(text: str) -> time | None:
    """ "08:00", "8:00", "8h00" or "08.00" as a time; None if it is not one."""
    match = _HHMM.fullmatch(text.strip())
    if match is None:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def format_hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def parse_quiet(text: str) -> tuple[time, time] | None:
    """ "22:00-07:00" (also with "–" or "to") as (start, end); None if it is not a range or if
    start and end are equal."""
    parts = re.split(r"\s*(?:-|–|—|to|à)\s*", text.strip(), maxsplit=1)
    if len(parts) != 2:
        return None
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start is None or end is None or start == end:
        return None
    return start, end


def find_timezone(name: str) -> str | None:
    """The IANA name for *name* matched case-insensitively ("europe/paris" → "Europe/Paris"),
    "UTC" for utc, or None for an unknown zone."""
    name = name.strip()
    if name.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    if not name or ".." in name or name.startswith("/"):
        return None
    lowered = name.lower()
    for known in zoneinfo.available_timezones():
        if known.lower() == lowered:
            return known
    return None


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """A chat's delivery settings, parsed, with the defaults filled in."""

    mode: str
    digest_time: time
    timezone: zoneinfo.ZoneInfo
    quiet: tuple[time, time] | None
    paused: bool
    # "quiet": during quiet hours posts go out silently (`disable_notification`) instead of
    # being held; "always": every post is silent; "off": posts ring (settings key "silent").
    silent: str = "off"

    @classmethod
    def of(cls, settings: Mapping[str, object], defaults: DeliveryConfig) -> DeliveryPolicy:
        mode = settings.get("delivery")
        digest_time = _as_time(settings.get("digest_time")) or parse_hhmm(defaults.digest_time)
        zone_name = settings.get("timezone")
        if not isinstance(zone_name, str) or not zone_name:  # the default, without a failure
            zone_name = defaults.timezone
        try:
            zone = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo(defaults.timezone)
        silent = settings.get("silent")
        quiet = settings.get("quiet")
        quiet_range: tuple[time, time] | None = None
        if isinstance(quiet, list | tuple) and len(quiet) == 2:
            start, end = _as_time(quiet[0]), _as_time(quiet[1])
            if start is not None and end is not None and start != end:
                quiet_range = (start, end)
        return cls(
            mode=mode if isinstance(mode, str) and mode in MODES else INSTANT,
            digest_time=digest_time or time(8, 0),
            timezone=zone,
            quiet=quiet_range,
            paused=settings.get("paused") is True,
            silent=silent if isinstance(silent, str) and silent in SILENT else "off",
        )

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours *now* falls in (UTC), or None outside quiet hours."""
        if self.quiet is None:
            return None
        start, end = self.quiet
        local = now.astimezone(self.timezone)
        clock = local.time().replace(tzinfo=None)
        # A range over midnight (22:00-07:00) is inside when after its start or before its end.
        inside = start <= clock < end if start < end else clock >= start or clock < end
        if not inside:
            return None
        day = local.date() if clock < end else local.date() + timedelta(days=1)
        return _local(day, end, self.timezone)

    def next_digest(self, now: datetime) -> datetime:
        """The first digest time strictly after *now*, in UTC."""
        local = now.astimezone(self.timezone)
        candidate = _local(local.date(), self.digest_time, self.timezone)
        if candidate <= now:
            candidate = _local(local.date() + timedelta(days=1), self.digest_time, self.timezone)
        return candidate


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a chat's claimed deliveries now: "send" them one by one, send the
    "digest", or "hold" them until `until` (UTC). `silent`: send without a notification."""

    action: str
    until: datetime | None = None
    silent: bool = False


SEND = Decision("send")
SEND_SILENTLY = Decision("send", silent=True)
# The chat's settings key "silent" takes these (`bot.services.publishing.SILENT_MODES`).
SILENT: tuple[str, ...] = ("off", "always", "quiet")


def decide(
    policy: DeliveryPolicy,
    now: datetime,
    hold_until: datetime | None,
    oldest: datetime | None = None,
) -> Decision:
    """What the sender does for a chat with pending deliveries at *now*.

    `hold_until` is the hold the sender stored last time (None: never decided since the
    settings last changed); `oldest` is when the oldest of the chat's pending deliveries was
    queued. A digest chat whose hold has passed is due if something was waiting at that
    digest time; what arrives later (after a digest time that found nothing to send) waits
    for the next one. A chat never gets a digest just because it switched to digest mode.
    """
    if policy.paused:
        return Decision("hold", FOREVER)
    if policy.mode == DIGEST:
        waiting = oldest is None or (hold_until is not None and oldest <= hold_until)
        if hold_until is not None and hold_until <= now and waiting:
            return Decision("digest", policy.next_digest(now))
        return Decision("hold", policy.next_digest(now))
    quiet_end = policy.quiet_until(now)
    if quiet_end is not None:
        if policy.silent == "quiet":
            return SEND_SILENTLY
        return Decision("hold", quiet_end)
    return SEND


def _as_time(value: object) -> time | None:
    return parse_hhmm(value) if isinstance(value, str) else None


def _local(day: date, clock: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of wall-clock *clock* on *day* in *zone*. A time skipped by a DST jump
    resolves forward (fold=0 as zoneinfo does), a repeated one to its first occurrence."""
    local = datetime.combine(day, clock, tzinfo=zone)
    return local.astimezone(UTC)
