"""Several `newsbot run` processes on one PostgreSQL, acting as one bot (issue 16): the shared
send rate, LISTEN/NOTIFY wake-ups, who takes the updates, the start line. The store contract
of the pieces runs on both backends; the processes are real `newsbot run` processes against
the fake Bot API, which enforces Telegram's flood limits and its one-consumer rule."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.clock import SystemClock
from bot.deliver.limiter import MAX_LEAD, SharedSlots
from bot.deliver.rules import PushRules
from bot.models import NewArticle
from bot.store import SqlStore, create_engine, open_store, upgrade
from tests.fakebotapi import FakeBotAPI, FloodLimits, User, most_in_one_second
from tests.helpers import FakeClock, until

ROOT = Path(__file__).resolve().parents[1]


# -- the store's part, on both backends ----------------------------------------------------------


async def test_shared_send_slots_never_overlap_between_stores(
    store: SqlStore, store_url: str, clock: FakeClock
) -> None:
    """Two stores (two processes) taking slots at once get slots at least a spacing apart,
    and a rate nobody used for a while starts again from now."""
    other = SqlStore(create_engine(store_url), clock, PushRules())
    try:
        spacing = 0.1
        firsts = await asyncio.gather(
            *(s.reserve_send_slots(3, spacing) for s in (store, other, store, other))
        )
        slots = sorted(first + i * spacing for first in firsts for i in range(3))
        assert all(b - a >= spacing - 1e-6 for a, b in itertools.pairwise(slots))
        now = clock.now().timestamp()
        assert slots[0] == pytest.approx(now + 0.02) and slots[-1] == pytest.approx(
            now + 0.02 + 11 * spacing
        )
        clock.advance(seconds=60)
        assert await other.reserve_send_slots(1, spacing, lead=0) == pytest.approx(
            clock.now().timestamp()
        )
    finally:
        await other.close()


async def test_the_updates_lease_has_one_holder_until_it_lapses(
    store: SqlStore, clock: FakeClock
) -> None:
    assert await store.take_lease("updates", "a", 10)
    assert not await store.take_lease("updates", "b", 10)
    assert await store.take_lease("updates", "a", 10)  # renewed
    clock.advance(seconds=11)
    assert await store.take_lease("updates", "b", 10)  # a died: b takes over
    assert not await store.take_lease("updates", "a", 10)
    await store.release_lease("updates", "b")
    assert await store.take_lease("updates", "a", 10)


async def test_processes_seen_are_the_live_ones(store: SqlStore, clock: FakeClock) -> None:
    start = clock.now()
    await store.see_process("p1", "all", start, alive_seconds=30)
    clock.advance(seconds=20)
    seen = await store.see_process("p2", "send", clock.now(), alive_seconds=30)
    assert [(p.worker, p.role) for p in seen] == [("p1", "all"), ("p2", "send")]
    clock.advance(seconds=20)  # p1 not seen for 40 s: dead
    seen = await store.see_process("p2", "send", clock.now(), alive_seconds=30)
    assert [p.worker for p in seen] == ["p2"]
    await store.forget_process("p2")
    assert [p.worker for p in await store.see_process("p3", "chat", start, alive_seconds=30)] == [
        "p3"
    ]


async def test_shared_slots_pace_one_process_at_the_rate(store: SqlStore) -> None:
    """What a sender does with the shared rate: one process alone, its sends waiting for
    slots together, gets all of it (no slot sooner than the rate allows, none wasted)."""
    clock = SystemClock()  # slots are real time: this test waits them out
    store.clock = clock
    shared = SharedSlots(store, 50, clock=clock)

    async def send() -> float:
        slot = await shared.next_slot()
        await asyncio.sleep(max(0.0, slot - clock.monotonic()))
        return slot

    taken = sorted(await asyncio.gather(*(send() for _ in range(20))))
    spacing = 1 / (50 * 0.96)
    # Each batch's times move from the store's wall clock to monotonic time by an offset read
    # from both clocks: a process preempted between the two reads is off by that long.
    assert all(b - a >= spacing - 0.005 for a, b in itertools.pairwise(taken))
    assert taken[-1] - taken[0] < 19 * spacing + 0.5


async def test_a_send_answered_late_costs_its_process_a_slot(
    store: SqlStore, clock: FakeClock
) -> None:
    """A message answered more than the margin allows after its slot may have arrived in a
    second that was already full: its process leaves one slot of the shared rate unused, so
    another process's next slot comes one spacing later. One answered in time costs nothing."""
    shared = SharedSlots(store, 30, clock=clock)
    slot = await shared.next_slot()
    shared.answered(slot, slot + shared.allowance / 2)  # in time
    before = await store.reserve_send_slots(1, shared.spacing, lead=0)
    shared.answered(slot, slot + shared.allowance + 0.1)  # late
    await until(lambda: shared.late_paid == 1, what="the late send's slot taken")
    after = await store.reserve_send_slots(1, shared.spacing, lead=0)
    assert after - before == pytest.approx(2 * shared.spacing, abs=1e-4)
    assert shared.paid_too_late == 0


async def test_shared_slots_are_taken_no_further_ahead_than_the_lead(
    store: SqlStore, clock: FakeClock
) -> None:
    """Sends waiting for shared slots take them as they come due, not a second's worth at
    once: a process holds none it will not use within a fraction of a second, so the
    store's next slot stays near now for the others (and for a late send's payment)."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    shared = SharedSlots(store, 30, clock=clock, sleep=sleep)
    ahead = []
    for _ in range(60):  # two seconds of slots, none of them used
        slot = await shared.next_slot()
        ahead.append(slot - clock.monotonic())
    assert max(ahead) < MAX_LEAD + shared.batch * shared.spacing, ahead


# -- real processes on PostgreSQL ----------------------------------------------------------------


@pytest.fixture
def cluster_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, migrated (skipped without PostgreSQL)."""
    from tests.conftest import scratch_postgres

    with scratch_postgres("newsbot_cluster") as url:

        async def migrate() -> None:
            engine = create_engine(url)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(migrate())
        yield url


class Process:
    """`newsbot run` in a process of its own; its stderr lines are collected as they come."""

    def __init__(self, config: Path, role: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env["PYTHONPATH"] = str(ROOT)
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(config),
                "run",
                "--role",
                role,
                "--poll-timeout",
                "2",
            ],
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

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The first stderr line containing *text*; fails after *timeout* s or if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if text in line), None)
            if found is not None:
                return found
            if self.popen.poll() is not None:
                self._reader.join(5)
                break
            time.sleep(0.02)
        raise AssertionError(f"no line with {text!r}; stderr:\n" + "\n".join(self.lines))

    def count(self, text: str) -> int:
        return sum(1 for line in self.lines if text in line)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._reader.join(5)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes a test starts; stopped at the end whatever happens."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def write_config(
    tmp_path: Path, api: FakeBotAPI, url: str, *, webhook: str = "", **delivery: float
) -> Path:
    lines = [
        "feeds = []",  # no network: nothing to ingest
        "[telegram]",
        f'token = "{api.token}"',
        f'api_base_url = "{api.base_url}"',
        webhook,
        "[store]",
        f'url = "{url}"',
        "[delivery]",
        *(f"{key} = {value}" for key, value in delivery.items()),
    ]
    path = tmp_path / f"config-{len(list(tmp_path.glob('config*')))}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def subscribe(url: str, clock: FakeClock, chats: list[int]) -> None:
    store = await open_store(url, clock=clock, rules=PushRules())
    try:
        await store.add_articles([NewArticle(title="Rubrique", text="Ouverture.", category="Éco")])
        for chat in chats:
            await store.upsert_chat(chat, language="fr")
            await store.subscribe(chat, "Éco")
    finally:
        await store.close()
    clock.advance(seconds=1)


async def publish(url: str, clock: FakeClock, n: int) -> None:
    store = await open_store(url, clock=clock, rules=PushRules())
    try:
        text = "Une phrase sur l'économie. " * 5
        # With its summary, as the ingest stores it: the senders do not compute it.
        item = NewArticle(
            title=f"Nouvelle {n}", text=text, category="Éco", summary=("Une phrase.",)
        )
        result = await store.add_articles([item])
        assert result.queued
    finally:
        await store.close()


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_three_processes_together_keep_the_overall_rate(
    cluster_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    """Three senders on one PostgreSQL, 10 messages/s configured: Telegram (the fake API,
    enforcing 10/s) counts at most 10 in any second and refuses none, every chat gets its
    message once, and together they still send at about the rate."""
    chats = [7000 + i for i in range(45)]
    clock = FakeClock()
    asyncio.run(subscribe(cluster_url, clock, chats))
    with FakeBotAPI(flood=FloodLimits(per_second=10), record_calls=False) as api:
        config = write_config(
            tmp_path, api, cluster_url, messages_per_second=10, batch_size=4, poll_seconds=0.5
        )
        for _ in range(3):  # one after the other: the third one sees the first two
            processes.append(Process(config, "send"))
            processes[-1].wait_for("takes no updates")
        line = processes[-1].wait_for("rate share")
        assert "processes seen: 3 (3 send)" in line and "shared by 3 senders" in line
        asyncio.run(publish(cluster_url, clock, 1))
        wait_until(lambda: len(api.sends) >= len(chats), 30, "every chat's message")
        for process in processes:
            process.stop()
        arrivals = sorted(t for t, _ in api.sends)
        sent_to = sorted(chat for _, chat in api.sends)
    assert api.flood_refused == {}
    assert sent_to == chats
    assert most_in_one_second(arrivals) <= 10
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    # Generous: on a loaded machine late answers cost slots (see `SharedSlots`); a rate that
    # is not shared (one process's third of it) stays well below.
    assert rate >= 0.5 * 10, rate


def test_storing_an_article_wakes_the_sender_of_another_process(
    cluster_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    """A sender that polls once every ten minutes sends soon after another process stores an
    article: PostgreSQL's NOTIFY woke it. What is asserted is the cause, not a speed: without
    the wake-up no message could arrive before the next poll, ten minutes on, so the bound of 30
    s holds on a loaded machine (bench/cluster.py measures the wake-up's latency)."""
    clock = FakeClock()
    asyncio.run(subscribe(cluster_url, clock, [8001]))
    with FakeBotAPI(record_calls=False, flood=FloodLimits()) as api:
        config = write_config(tmp_path, api, cluster_url, poll_seconds=600)
        processes.append(Process(config, "send"))
        processes[0].wait_for("takes no updates")
        delays = asyncio.run(timed_publish(cluster_url, clock, api, 3))
    assert len(delays) == 3 and max(delays) < 30.0, delays  # the poll alone: up to 600 s


async def timed_publish(url: str, clock: FakeClock, api: FakeBotAPI, count: int) -> list[float]:
    """Store *count* articles one by one, each once the previous one was delivered; the
    seconds from each `add_articles` to its message's arrival."""
    store = await open_store(url, clock=clock, rules=PushRules())
    delays = []
    try:
        for n in range(1, count + 1):
            article = NewArticle(title=f"Nouvelle {n}", text="Une phrase. " * 5, category="Éco")
            before = time.monotonic()
            await store.add_articles([article])
            while len(api.sends) < n:
                if time.monotonic() - before > 30:
                    raise AssertionError(f"message {n} not delivered within 30 s")
                await asyncio.sleep(0.01)
            delays.append(api.sends[n - 1][0] - before)
            clock.advance(seconds=2)
            await asyncio.sleep(1.1)  # the chat's one message a second
    finally:
        await store.close()
    return delays


def test_a_second_process_waits_for_the_updates_and_takes_them_over(
    cluster_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    """Two `all` processes: one polls, the other says once that it waits and carries on; when
    the first is killed (kill -9), the second answers the users within the lease."""
    with FakeBotAPI() as api:
        config = write_config(tmp_path, api, cluster_url)
        first = Process(config, "all")
        processes.append(first)
        first.wait_for("receiving updates by long polling")
        second = Process(config, "all")
        processes.append(second)
        second.wait_for("waits for the updates another process takes")
        assert "processes seen: 2 (2 all)" in second.wait_for("rate share")
        user = User(id=9001, first_name="Camille", language_code="fr")
        update = api.send_message(user, "/start")
        api.wait_acknowledged(update, timeout=10)
        wait_until(lambda: api.calls_of("sendMessage"), 10, "the answer to /start")
        first.popen.kill()  # kill -9: no lease given back
        first.popen.wait(10)
        second.wait_for("takes the updates now", timeout=30)
        answered = len(api.calls_of("sendMessage"))
        update = api.send_message(user, "/help")
        api.wait_acknowledged(update, timeout=10)
        wait_until(lambda: len(api.calls_of("sendMessage")) > answered, 10, "the answer")
    assert second.count("another process takes this bot's updates") == 1
    assert not any("Conflict" in line for line in second.lines), second.lines
    assert not any("Traceback" in line for line in second.lines), second.lines


def test_roles_share_the_work(cluster_url: str, tmp_path: Path, processes: list[Process]) -> None:
    """A chat process and a send process: /subscribe is answered by the one, the article is
    delivered by the other, and the start lines say who does what."""
    clock = FakeClock()
    with FakeBotAPI() as api:
        config = write_config(tmp_path, api, cluster_url, poll_seconds=30)
        chat = Process(config, "chat")
        processes.append(chat)
        chat.wait_for("receiving updates by long polling")
        assert "rate share: none (sends nothing)" in chat.wait_for("rate share")
        sender = Process(config, "send")
        processes.append(sender)
        line = sender.wait_for("rate share")
        assert "processes seen: 2 (1 chat, 1 send)" in line
        assert "30 messages/s, all of it" in line
        user = User(id=9002, first_name="Sam", language_code="en")
        asyncio.run(subscribe(cluster_url, clock, []))
        update = api.send_message(user, "/subscribe éco")
        api.wait_acknowledged(update, timeout=10)
        wait_until(lambda: api.calls_of("sendMessage"), 10, "the answer to /subscribe")
        clock.advance(timedelta(minutes=1))
        # The article is stored "now" for the processes: after the subscription.
        asyncio.run(publish(cluster_url, FakeClock(SystemClock().now()), 1))
        wait_until(lambda: len(api.calls_of("sendMessage")) >= 2, 10, "the delivery")
        pushed = api.calls_of("sendMessage")[-1]
    assert "Nouvelle 1" in pushed.text and int(pushed.params["chat_id"]) == user.id


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_chat_processes_check_the_secret_and_share_chat_state(
    cluster_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    """Two `chat` processes behind a webhook (a load balancer sends each update to either):
    each refuses an update without the secret, and a language chosen through one is the
    language of the next answer from the other."""
    secret = "Cluster_secret-42"
    with FakeBotAPI() as api:
        ports = [_free_port(), _free_port()]
        for port in ports:
            webhook = (
                f'[telegram.webhook]\nurl = "https://bot.example.org/hook"\n'
                f'listen = "127.0.0.1"\nport = {port}\nsecret_token = "{secret}"'
            )
            config = write_config(tmp_path, api, cluster_url, webhook=webhook)
            processes.append(Process(config, "chat"))
        for process in processes:
            process.wait_for("receiving updates by webhook")
        user = User(id=9003, first_name="Alex", language_code="fr")

        def post(port: int, text: str, token: str = secret) -> int:
            update = api.webhook_update(user, text)
            headers = {"X-Telegram-Bot-Api-Secret-Token": token}
            url = f"http://127.0.0.1:{port}/hook"
            return httpx.post(url, json=update, headers=headers, timeout=10).status_code

        assert [post(port, "/start", token="wrong") for port in ports] == [403, 403]
        assert [post(port, "/start") for port in ports] == [200, 200]  # both know the chat
        wait_until(lambda: len(api.calls_of("sendMessage")) >= 2, 10, "two welcomes")
        assert post(ports[0], "/language en") == 200
        wait_until(lambda: len(api.calls_of("sendMessage")) >= 3, 10, "the answer")
        assert post(ports[1], "/language") == 200  # the other process answers in English
        wait_until(lambda: len(api.calls_of("sendMessage")) >= 4, 10, "the answer")
        english = api.calls_of("sendMessage")[-1].text
        assert post(ports[1], "/language fr") == 200
        wait_until(lambda: len(api.calls_of("sendMessage")) >= 5, 10, "the answer")
        assert post(ports[0], "/language") == 200
        wait_until(lambda: len(api.calls_of("sendMessage")) >= 6, 10, "the answer")
        french = api.calls_of("sendMessage")[-1].text
        refused = [c for c in api.calls_of("sendMessage") if not c.ok]
    assert english.startswith("Current language: <b>English</b>"), english
    assert not french.startswith("Current language"), french
    assert refused == []


def test_a_409_conflict_is_said_once_and_polling_resumes_when_the_other_stops(
    tmp_path: Path, processes: list[Process]
) -> None:
    """One process on SQLite, and something else polling with the same token (another bot on
    another store): Telegram ends one getUpdates with 409 each time the other polls. The bot
    says so once, never loops on tracebacks, and answers again once the other one stops."""
    with FakeBotAPI() as api:
        config = write_config(tmp_path, api, f"sqlite:///{tmp_path / 'one.db'}")
        bot = Process(config, "all")
        processes.append(bot)
        bot.wait_for("receiving updates by long polling")
        url = f"{api.base_url}{api.token}/getUpdates"
        with httpx.Client(timeout=10) as other:
            for _ in range(5):  # each one ends the bot's waiting getUpdates with a 409
                other.post(url, json={"timeout": 1})
        bot.wait_for("409 Conflict")
        user = User(id=9004, first_name="Lou", language_code="fr")
        update = api.send_message(user, "/start")
        api.wait_acknowledged(update, timeout=40)  # PTB's back-off is at most 30 s
        wait_until(lambda: api.calls_of("sendMessage"), 10, "the answer to /start")
    assert bot.count("409 Conflict") == 1, bot.lines
    assert not any("Traceback" in line for line in bot.lines), bot.lines
