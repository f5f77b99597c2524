"""Cluster benchmark: three `newsbot run` processes on one PostgreSQL act as one bot.

    python bench/cluster.py                         # 10,000 chats, 20 articles (~15 min)
    python bench/cluster.py --chats 2000 --skip-kill

Needs a PostgreSQL server: `--database-url`, else `$NEWSBOT_TEST_DATABASE_URL`; the benchmark
creates databases of its own next to the one named and drops them at the end.

Set-up, through the store's API: `--chats` chats (one in ten a group, negative id), each
subscribed to one of 20 categories, and one private chat subscribed to a category of its own
for the wake-up measurement. A template database holds that; each run copies it.

The fake Bot API (tests/fakebotapi.py) runs in a process of its own on 127.0.0.1 and enforces
Telegram's limits as Telegram does (`FloodLimits`: 30 messages/s overall in any sliding second,
1/s per private chat, 20/min per group; a 429 with `retry_after` beyond them), timestamping
every accepted message. Three real `newsbot run --role all` processes (`[delivery]` defaults:
30 messages/s, poll every 2 s) share the database: one takes the updates, all three send.

1. Wake-up: the benchmark process stores an article for the wake-up chat with `add_articles`
   and times it until the message arrives at the fake API, 20 times with PostgreSQL's NOTIFY
   and, as the baseline of the same run, 20 times with this process's NOTIFY switched off (the
   senders then find the article at their next poll). Target p50 < 200 ms.
2. Throughput: 20 articles arrive (one per category, half a second apart), 10,000 messages in
   all: the rate Telegram saw ((messages - 1) / (last - first arrival)), the 429s, chats
   served twice, chats missed. Target: >= 95% of 30/s, 0, 0, 0. Each 429 is shown with the
   arrivals of the second before it (the gaps between them, where they bunched), and each
   process's count of shared slots it gave up (woken too late) or left unused for a late
   answer (its `newsbot -v run` log line at stop).
3. kill -9: the same from a fresh copy, and one of the three processes is killed (SIGKILL) once
   half the messages have arrived. The others finish everything (the dead one's claimed rows
   come back when its lease lapses, 60 s); the report says how many messages the dead process
   had sent but not yet marked sent when it died (Telegram accepted them, its store rows were
   still "sending"), which is the most duplicates there may be, and how many there were.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench._postgres import admin  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.deliver.rules import PushRules  # noqa: E402
from bot.models import NewArticle  # noqa: E402
from bot.store import async_url, create_engine, open_store, upgrade  # noqa: E402
from bot.store import queue as queue_module  # noqa: E402
from bot.store.schema import deliveries  # noqa: E402
from bot.summarize import summarize_or_none  # noqa: E402
from tests.fakebotapi import FakeBotAPI, FloodLimits, most_in_one_second  # noqa: E402

# A benchmark is a program: the machine's clock, made once, as `newsbot` does.
CLOCK = SystemClock()
CATEGORIES = [f"Rubrique {i:02d}" for i in range(20)]
WAKE_CATEGORY = "Réveil"
WAKE_CHAT = 99_000_001
GROUP_SHARE = 10
PROCESSES = 3
RATE = 30
TEXT = (
    "Le gouvernement a présenté mardi un plan d'investissement dans les transports. "
    "Les régions recevront une part des crédits selon leur population. "
    "Les syndicats saluent la mesure mais demandent un calendrier précis. "
    "L'opposition dénonce un effet d'annonce avant les élections. "
) * 3


# The default summary, computed before the article is stored, as `newsbot run`'s ingest does:
# the senders read it instead of computing it.
SUMMARY = summarize_or_none(TEXT, "Nouvelle", "fr")


def article(title: str, category: str) -> NewArticle:
    return NewArticle(title=title, text=TEXT, category=category, language="fr", summary=SUMMARY)


# -- PostgreSQL databases of our own -------------------------------------------------------------


def _named(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


async def build_template(base: str, name: str, chats: int) -> float:
    """A migrated database with `chats` chats over the 20 categories, and the wake-up chat."""
    await admin(base, f'CREATE DATABASE "{name}"')
    url = _named(base, name)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    store = await open_store(url, clock=CLOCK, rules=PushRules())
    t0 = time.perf_counter()
    try:
        await store.add_articles(
            [
                NewArticle(title=f"Ouverture {c}", text="Premier article.", category=c)
                for c in [*CATEGORIES, WAKE_CATEGORY]
            ]
        )
        ids = [
            -(1_000_000_000_000 + i) if i % GROUP_SHARE == 0 else 100_000 + i for i in range(chats)
        ]

        async def join(i: int, chat_id: int) -> None:
            await store.upsert_chat(chat_id, language="fr")
            await store.subscribe(chat_id, CATEGORIES[i % len(CATEGORIES)])

        for start in range(0, len(ids), 64):
            await asyncio.gather(
                *(join(start + j, c) for j, c in enumerate(ids[start : start + 64]))
            )
        await store.upsert_chat(WAKE_CHAT, language="fr")
        await store.subscribe(WAKE_CHAT, WAKE_CATEGORY)
    finally:
        await store.close()
    return time.perf_counter() - t0


# -- the fake Bot API in a process of its own ----------------------------------------------------


class RemoteAPI:
    """tests/fakebotapi.py with Telegram's flood limits, in a process of its own (as Telegram
    is: its work does not compete with the bots for a GIL)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_api, args=(child,), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the fake Bot API process did not start")
        self.base_url, self.token = self._conn.recv()

    def count(self) -> int:
        """Messages accepted so far."""
        self._conn.send(("count", 0))
        found: int = self._conn.recv()
        return found

    def sends(self, start: int = 0) -> list[tuple[float, int]]:
        """(arrival, chat id) of the messages accepted, from the *start*-th on."""
        self._conn.send(("sends", start))
        found: list[tuple[float, int]] = self._conn.recv()
        return found

    def results(self) -> dict[str, Any]:
        self._conn.send(("results", 0))
        found: dict[str, Any] = self._conn.recv()
        return found

    def close(self) -> None:
        self._conn.send(("stop", 0))
        self._process.join(10)


class WatchedAPI(FakeBotAPI):
    """The fake Bot API, also keeping each 429 it answers: (time, chat id, limit)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusals: list[tuple[float, int, str]] = []

    def _check_flood(self, chat_id: int, now: float, paid: bool = False) -> None:
        before = dict(self.flood_refused)
        try:
            super()._check_flood(chat_id, now, paid)
        except Exception:
            limit = next(k for k, v in self.flood_refused.items() if before.get(k) != v)
            self.refusals.append((now, chat_id, limit))
            raise


def _serve_api(conn: Any) -> None:
    api = WatchedAPI(record_calls=False, flood=FloodLimits(per_second=RATE)).start()
    conn.send((api.base_url, api.token))
    while True:
        message, start = conn.recv()
        with api._lock:
            if message == "count":
                conn.send(len(api.sends))
            elif message == "sends":
                conn.send(api.sends[start:])
            elif message == "results":
                refused = dict(api.flood_refused)
                conn.send(
                    {
                        "sends": list(api.sends),
                        "refused": refused,
                        "refusals": list(api.refusals),
                        "counts": api.counts,
                    }
                )
            else:
                break
    api.stop()


# -- newsbot run processes -----------------------------------------------------------------------


class Bot:
    """One `newsbot run --role all` process; its stderr lines collected."""

    def __init__(self, config: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env["PYTHONPATH"] = str(ROOT)
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "bot", "-v", "--config", str(config), "run", "--role", "all"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, needle: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if needle in line:
                    return line
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"no {needle!r} from newsbot run:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(5)


def write_config(directory: Path, api: RemoteAPI, url: str) -> Path:
    path = directory / "cluster.toml"
    path.write_text(
        "feeds = []\n"
        f'[telegram]\ntoken = "{api.token}"\napi_base_url = "{api.base_url}"\n'
        f'[store]\nurl = "{url}"\n'
        f"[delivery]\nmessages_per_second = {RATE}\n",
        encoding="utf-8",
    )
    return path


async def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- one run -------------------------------------------------------------------------------------


async def wake_ups(url: str, api: RemoteAPI, trials: int) -> tuple[list[float], list[float]]:
    """Milliseconds from `add_articles` here to the message's arrival, with and without this
    process's NOTIFY, alternating."""
    store = await open_store(url, clock=CLOCK, rules=PushRules())
    notify = queue_module.notify_deliveries
    with_notify: list[float] = []
    polled: list[float] = []
    try:
        for n in range(2 * trials):
            silent = n % 2 == 1
            queue_module.notify_deliveries = (lambda conn: None) if silent else notify  # type: ignore[assignment]
            known = api.count()
            item = article(f"Réveil {n} {uuid.uuid4().hex[:6]}", WAKE_CATEGORY)
            t0 = time.monotonic()
            await store.add_articles([item])
            if not await _wait(lambda k=known: api.count() > k, 10):
                raise RuntimeError("a wake-up article was not delivered within 10 s")
            arrived = api.sends(known)[0][0]
            (polled if silent else with_notify).append((arrived - t0) * 1000)
            await asyncio.sleep(1.1)  # the wake-up chat's 1 message/s
    finally:
        queue_module.notify_deliveries = notify
        await store.close()
    return with_notify, polled


async def run_once(
    base: str, template: str, directory: Path, chats: int, kill: bool, trials: int
) -> dict[str, Any]:
    name = f"newsbot_cluster_{uuid.uuid4().hex[:8]}"
    await admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _named(base, name)
    api = RemoteAPI()
    bots: list[Bot] = []
    result: dict[str, Any] = {"kill": kill}
    try:
        config = write_config(directory, api, url)
        for _ in range(PROCESSES):
            bots.append(Bot(config))
            bots[-1].wait_for("Ctrl-C stops")
        result["start_line"] = bots[-1].wait_for("rate share").split("newsbot run: ", 1)[-1]
        if trials:
            result["wake"] = await wake_ups(url, api, trials)
        base_count = api.count()
        store = await open_store(url, clock=CLOCK, rules=PushRules())
        try:
            queued = 0
            t_first = time.monotonic()
            for category in CATEGORIES:
                added = await store.add_articles([article(f"Nouvelle — {category}", category)])
                queued += added.queued
                await asyncio.sleep(0.5)
            result["queued"] = queued
            if kill:
                half = base_count + queued // 2
                await _wait(lambda: api.count() >= half, queued / RATE * 3)
                victim = bots[1]
                victim.popen.send_signal(signal.SIGKILL)
                victim.popen.wait()
                result["killed_at"] = api.count() - base_count
                # What the dead process had claimed: rows still "sending" under its name.
                pid = victim.popen.pid
                async with store.engine.connect() as conn:
                    rows = await conn.execute(
                        select(deliveries.c.chat_id).where(
                            deliveries.c.status == "sending",
                            deliveries.c.worker.like(f"%:{pid}:%"),
                        )
                    )
                    claimed = {int(r.chat_id) for r in rows}
                arrived = {chat for _, chat in api.sends(base_count)}
                result["dead_claimed"] = len(claimed)
                result["dead_in_flight"] = len(claimed & arrived)
            deadline = queued / RATE * 3 + 120
            done = await _wait(lambda: api.count() - base_count >= queued, deadline)
            result["elapsed"] = time.monotonic() - t_first
            result["finished"] = done
            # Let a resend of the dead process's rows show up if there is one to come.
            await asyncio.sleep(3)
            async with store.engine.connect() as conn:
                rows = await conn.execute(
                    select(deliveries.c.status, text("count(*)")).group_by(deliveries.c.status)
                )
                result["queue"] = {r[0]: r[1] for r in rows}
        finally:
            await store.close()
        for bot in bots:
            bot.stop()
        results = api.results()
        sends = results["sends"][base_count:]
        result["refused"] = results["refused"]
        result["refusals"] = results["refusals"]
        result["all_sends"] = results["sends"]
        result["shared"] = [
            next((line.split(": ", 2)[-1] for line in bot.lines if "shared send rate" in line), "")
            for bot in bots
        ]
        result["paused"] = [sum(1 for line in bot.lines if "flood control" in line) for bot in bots]
        result["arrivals"] = sorted(t for t, _ in sends)
        per_chat = collections.Counter(chat for _, chat in sends)
        result["duplicates"] = sum(n - 1 for n in per_chat.values() if n > 1)
        result["missing"] = chats - len([c for c in per_chat if c != WAKE_CHAT])
        result["wake_sent"] = per_chat.get(WAKE_CHAT, 0)
        result["conflicts"] = sum(
            1 for bot in bots for line in bot.lines if "another process takes" in line
        )
    finally:
        for bot in bots:
            if bot.popen.poll() is None:
                bot.popen.kill()
        api.close()
        await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


# -- report --------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def show_refusals(
    refusals: list[tuple[float, int, str]], sends: list[tuple[float, int]], most: int = 5
) -> None:
    """Each 429 (the first *most*): when, to which chat, and the arrivals of the second before
    it, as milliseconds between one and the next (where they bunched)."""
    times = [t for t, _ in sends]
    for at, chat, limit in refusals[:most]:
        before = [t for t in times if at - 1.0 < t <= at]
        gaps = " ".join(f"{(b - a) * 1000:.0f}" for a, b in itertools.pairwise(before))
        print(
            f"    429 ({limit}) to {chat} at +{at - times[0]:.3f} s, {len(before)} in the "
            f"second before; gaps (ms): {gaps}"
        )


def report(run: dict[str, Any], chats: int) -> bool:
    arrivals = run["arrivals"]
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    refused = sum(run["refused"].values())
    title = "kill -9 of one process half-way" if run["kill"] else "three processes"
    print(f"\n== {title}: {chats:,} chats, 20 articles, {RATE}/s overall ==")
    print(f"  start line of the third process   {run['start_line']}")
    if "wake" in run:
        notify, polled = run["wake"]
        p50n, p50p = statistics.median(notify), statistics.median(polled)
        print(
            f"  add_articles -> first send, NOTIFY p50 / p90 / max: {p50n:.0f} / "
            f"{pct(notify, 90):.0f} / {max(notify):.0f} ms ({len(notify)} trials)"
        )
        print(
            f"  same, poll only (baseline)  p50 / p90 / max: {p50p:.0f} / {pct(polled, 90):.0f}"
            f" / {max(polled):.0f} ms; NOTIFY p50 = {p50n / p50p:.2f} of the poll's"
        )
    print(f"  deliveries queued                 {run['queued']:,}")
    print(f"  messages accepted by the API      {len(arrivals):,}")
    print(f"  achieved rate                     {rate:.2f}/s = {rate / RATE:.1%} of {RATE}/s")
    print(f"  most in any 1 s                   {most_in_one_second(arrivals)}")
    print(f"  429s provoked                     {refused} {run['refused'] or ''}")
    if refused:
        print(f"  429s taken, by process            {run['paused']}")
        show_refusals(run["refusals"], run["all_sends"])
    for n, line in enumerate(run["shared"]):
        print(f"  process {n + 1}: {line}")
    print(f"  duplicates / missing chats        {run['duplicates']} / {run['missing']}")
    print(f"  first article to all sent         {run['elapsed']:.1f} s")
    print(f"  queue at the end                  {run['queue']}")
    if run["kill"]:
        print(
            f"  killed after                      {run['killed_at']:,} messages; it held "
            f"{run['dead_claimed']} claimed rows, {run['dead_in_flight']} of them already "
            "accepted by Telegram but not marked sent (the most duplicates there may be)"
        )
    ok = rate >= 0.95 * RATE and not refused and run["missing"] == 0 and run["finished"]
    if run["kill"]:
        ok = ok and run["duplicates"] <= run["dead_in_flight"]
        verdict = "target: >= 95%, no 429, none missing, duplicates <= in flight"
    else:
        ok = ok and run["duplicates"] == 0
        verdict = "target: >= 95%, no 429, no duplicate, none missing"
    print(f"  {verdict}: {'met' if ok else 'NOT met'}")
    return ok


async def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--chats", type=int, default=10_000, help="subscribed chats (10,000)")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server (default: $NEWSBOT_TEST_DATABASE_URL)"
    )
    parser.add_argument("--trials", type=int, default=20, help="wake-up trials of each kind (20)")
    parser.add_argument("--skip-kill", action="store_true", help="no kill -9 run")
    args = parser.parse_args()
    base = args.database_url or os.environ.get("NEWSBOT_TEST_DATABASE_URL")
    if not base:
        sys.exit("bench/cluster.py needs --database-url or $NEWSBOT_TEST_DATABASE_URL")
    base = async_url(base)
    template = f"newsbot_cluster_tpl_{uuid.uuid4().hex[:8]}"
    try:
        built = await build_template(base, template, args.chats)
        print(
            f"{args.chats:,} chats ({100 // GROUP_SHARE}% groups) over {len(CATEGORIES)} "
            f"categories, through upsert_chat + subscribe in {built:.1f} s; {PROCESSES} "
            f"`newsbot run --role all` processes; fake Bot API in its own process enforcing "
            f"{RATE}/s overall, 1/s per private chat, 20/min per group"
        )
        with tempfile.TemporaryDirectory() as tmp:
            runs = [await run_once(base, template, Path(tmp), args.chats, False, args.trials)]
            if not args.skip_kill:
                runs.append(await run_once(base, template, Path(tmp), args.chats, True, 0))
    finally:
        await admin(base, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    results = [report(run, args.chats) for run in runs]
    print("\nall targets met" if all(results) else "\nsome target NOT met")


if __name__ == "__main__":
    asyncio.run(main())
