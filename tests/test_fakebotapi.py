"""The fake Bot API speaks like Telegram where the bot's tests rely on it: errors with their
parameters (as PTB turns them into RetryAfter, ChatMigrated, Forbidden), chat members and
admins, group and channel updates, and only the update types a bot asked for."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    LinkPreviewOptions,
    Message,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from tests.fakebotapi import (
    BLOCKED,
    PHOTO_NOT_AN_IMAGE,
    PHOTO_UNREACHABLE,
    ApiError,
    FakeBotAPI,
    FloodLimits,
    User,
    asks_paid_broadcast,
)
from tests.feedserver import FeedServer

ANNE = User(id=11, first_name="Anne", language_code="fr")
BOB = User(id=12, first_name="Bob", language_code="en")


@pytest.fixture
async def api_bot() -> AsyncIterator[tuple[FakeBotAPI, Bot]]:
    with FakeBotAPI() as api:
        async with Bot(api.token, base_url=api.base_url) as bot:
            yield api, bot


def test_a_paid_broadcast_goes_past_the_free_overall_limit_and_no_further() -> None:
    """As Telegram: past `per_second` messages in the last second, only a message that asks
    for a paid broadcast is taken, up to `paid_per_second`; times given, not read."""
    api = FakeBotAPI(flood=FloodLimits(per_second=2, paid_per_second=4))
    for chat in (1, 2):
        api._check_flood(chat, 10.0)
        api._count_send(chat, 10.0)
    with pytest.raises(ApiError, match="Too Many Requests"):
        api._check_flood(3, 10.1)  # free: the third in the second
    for chat in (4, 5):
        api._check_flood(chat, 10.2, paid=True)
        api._count_send(chat, 10.2)
    with pytest.raises(ApiError, match="Too Many Requests"):
        api._check_flood(6, 10.3, paid=True)  # paid: past its own limit
    api._check_flood(7, 11.25)  # all four left the window: room again, free
    assert api.flood_refused == {"overall": 2}
    assert asks_paid_broadcast({"allow_paid_broadcast": True})
    assert asks_paid_broadcast({"allow_paid_broadcast": "true"})  # form-encoded
    assert not asks_paid_broadcast({}) and not asks_paid_broadcast({"allow_paid_broadcast": False})


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_errors_carry_their_parameters(api_bot: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = api_bot
    api.fail_next(
        "sendMessage", "Too Many Requests: retry after 3", 429, parameters={"retry_after": 3}
    )
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(ANNE.id, "hello")
    assert "Retry in 3 seconds" in str(flood.value)
    api.fail_next(
        "sendMessage",
        "Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": -100123},
        chat_id=-42,
    )
    await bot.send_message(-7, "another group is not concerned")
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(-42, "hello")
    assert migrated.value.new_chat_id == -100123
    await bot.send_message(-42, "only once")
    api.fail_next("sendMessage", BLOCKED, 403, chat_id=ANNE.id, times=2)
    for _ in range(2):
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(ANNE.id, "hello")
    await bot.send_message(ANNE.id, "unblocked")
    api.block(BOB.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(BOB.id, "hello")
    api.unblock(BOB.id)
    await bot.send_message(BOB.id, "hello again")
    refused = [(c.method, c.params.get("chat_id")) for c in api.rejected()]
    assert refused == [("sendMessage", str(ANNE.id))] + [
        ("sendMessage", str(c)) for c in (-42, ANNE.id, ANNE.id, BOB.id)
    ]


async def test_members_and_administrators(api_bot: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = api_bot
    api.set_member_status(-100123, ANNE.id, "creator", user=ANNE)
    api.set_member_status(-100123, BOB.id, "administrator", user=BOB)
    owner = await bot.get_chat_member(-100123, ANNE.id)
    assert isinstance(owner, ChatMemberOwner) and owner.user.first_name == "Anne"
    admin = await bot.get_chat_member(-100123, BOB.id)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_manage_chat
    member = await bot.get_chat_member(-100123, 99)
    assert isinstance(member, ChatMemberMember) and member.status == "member"
    admins = await bot.get_chat_administrators(-100123)
    assert {a.user.id for a in admins} == {ANNE.id, BOB.id}
    for status in ("restricted", "left", "kicked"):
        api.set_member_status(-5, 99, status)
        assert (await bot.get_chat_member(-5, 99)).status == status
    with pytest.raises(ValueError):
        api.set_member_status(-5, 99, "emperor")


async def test_group_and_channel_updates(api_bot: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = api_bot
    api.send_message(ANNE, "/latest@newsbot_test_bot", chat_type="supergroup", chat_id=-100123)
    api.send_message(BOB, "hello", chat_type="group")
    api.channel_post(-100777, "/latest", title="Les Nouvelles")
    updates = await bot.get_updates(timeout=0)
    group, small, channel = updates
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert group.effective_chat.id == -100123 and group.effective_user == ANNE.as_user()
    assert group.message is not None and group.message.text == "/latest@newsbot_test_bot"
    assert small.effective_chat is not None and small.effective_chat.id == -BOB.id
    assert channel.channel_post is not None and channel.effective_user is None
    assert channel.channel_post.chat.type == "channel"
    assert channel.channel_post.chat.title == "Les Nouvelles"
    sent = await bot.send_message(-100123, "in the group")
    assert sent.chat.type == "supergroup"
    with pytest.raises(ValueError):
        api.channel_post(5, "channels have negative ids")


async def test_only_the_asked_update_types_are_sent(api_bot: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = api_bot
    api.inline_mode = True
    message = api.send_message(ANNE, "hello")
    inline, _ = api.inline_query(ANNE, "words")
    updates = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.update_id for u in updates] == [message]
    assert api.allowed_updates == {"message"}
    with pytest.raises(AssertionError, match="inline_query"):
        api.wait_acknowledged(inline, timeout=1)
    api.inline_mode = False
    with pytest.raises(RuntimeError, match="inline mode is off"):
        api.inline_query(ANNE, "words")


async def test_photos_captions_previews_and_silent_messages_are_checked_as_telegram_does(
    api_bot: tuple[FakeBotAPI, Bot],
) -> None:
    api, bot = api_bot
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with FeedServer() as images:
        images.add("/ok.jpg", b"\xff\xd8\xff" + bytes(32), content_type="image/jpeg")
        images.add("/page", b"<html></html>", content_type="text/html")
        images.add("/gone", b"", status=404)
        ok = images.url("/ok.jpg")
        # 1,024 characters as Telegram counts them after parsing: "&lt;" is one, "🇫🇷" four.
        fits = "<b>&lt;</b>" + "🇫🇷" * 255 + "x" * 3
        sent = await bot.send_photo(ANNE.id, ok, caption=fits, parse_mode=ParseMode.HTML)
        assert sent.photo and sent.caption == "<" + "🇫🇷" * 255 + "xxx" and sent.text is None
        with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
            await bot.send_photo(ANNE.id, ok, caption=fits + "x", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_photo(ANNE.id, ok, caption="<b>open", parse_mode=ParseMode.HTML)
        for url, refusal in (
            (images.url("/gone"), PHOTO_UNREACHABLE),
            (images.url("/page"), PHOTO_NOT_AN_IMAGE),
            ("https://example.org/never-fetched.jpg", PHOTO_UNREACHABLE),  # off the machine
            (f"http://127.0.0.1:{closed}/x.jpg", PHOTO_UNREACHABLE),
        ):
            with pytest.raises(BadRequest) as refused:
                await bot.send_photo(ANNE.id, url, caption="x")
            wanted = refusal.removeprefix("Bad Request: ")
            assert refused.value.message.lower() == wanted.lower(), url
        assert len(images.requests_to("/ok.jpg")) == 1  # fetched once, as Telegram caches it
        # A photo has no text to edit; its caption can be.
        with pytest.raises(BadRequest, match=r"(?i)no text in the message"):
            await bot.edit_message_text("new", chat_id=ANNE.id, message_id=sent.message_id)
        edited = await bot.edit_message_caption(ANNE.id, sent.message_id, caption="new")
        assert isinstance(edited, Message) and edited.caption == "new"
    # link_preview_options and disable_notification are recorded.
    options = LinkPreviewOptions(
        url="https://ex.org/a", prefer_large_media=True, show_above_text=True
    )
    text = await bot.send_message(
        ANNE.id, "hello", link_preview_options=options, disable_notification=True
    )
    assert api.options(ANNE.id, text.message_id) == {
        "preview": {"url": "https://ex.org/a", "prefer_large_media": True, "show_above_text": True},
        "silent": True,
    }
    plain = await bot.send_message(ANNE.id, "hello")
    assert api.options(ANNE.id, plain.message_id) == {"preview": None, "silent": False}
    both = LinkPreviewOptions(prefer_small_media=True, prefer_large_media=True)
    with pytest.raises(BadRequest, match=r"(?i)prefer both"):
        await bot.send_message(ANNE.id, "hello", link_preview_options=both)
