"""`withus telegram`: registering the webhook, and polling instead of it, against the fake
Bot API, with settings from the environment as users run it."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select

from bot.cli import main
from bot.cli.telegram import WEBHOOK_PATH, telegram
from storage.models import Response
from surveys.loader import library_path
from tests.conftest_db import TEST_VAULT_KEY
from tests.fakes import FakeTelegramAPI
from tests.webhook_harness import (
    CONSENT,
    INTRO,
    LANGUAGE,
    PUBLIC,
    TELEGRAM_WARNINGS,
    tg_button,
    tg_text,
)

pytestmark = TELEGRAM_WARNINGS

TOKEN = "7000000002:AAE-cli-test-token-not-real"
SECRET = "cli-webhook-secret_0123456789"
CHAT = 987654321


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(token=TOKEN) as api:
        yield api


@pytest.fixture
def api(fake: FakeTelegramAPI) -> FakeTelegramAPI:
    fake.reset()
    return fake


@pytest.fixture
def env(tmp_path: Path, api: FakeTelegramAPI) -> dict[str, str | None]:
    """The environment a user would set, and nothing from the test runner's own."""
    values: dict[str, str | None] = {
        k: None for k in os.environ if k.startswith(("WITHUS_", "TELEGRAM_", "TWILIO_"))
    }
    values.update(
        WITHUS_DATABASE_URL=f"sqlite:///{tmp_path / 'withus.db'}",
        WITHUS_INSTANCE_PATH=str(tmp_path / "instance"),
        WITHUS_VAULT_KEYS=TEST_VAULT_KEY,
        WITHUS_PSEUDONYM_KEY="a-test-pseudonym-key-that-is-long-enough",
        WITHUS_SECRET_KEY="test",
        WITHUS_DEFAULT_SURVEY="fft",
        WITHUS_PUBLIC_URL=PUBLIC,
        WITHUS_LOG_FORMAT="json",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE_URL=api.base_url,
    )
    return values


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`withus` points the root logger at the stderr of the moment, which CliRunner
    swaps for a buffer it closes afterwards: put the test runner's logging back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner(env=env).invoke(telegram, list(args), catch_exceptions=False)


@pytest.fixture
def loaded(env: dict[str, str | None]) -> dict[str, str | None]:
    """The example surveys loaded with `withus surveys load`, as a user would."""
    result = CliRunner(env=env).invoke(main, ["surveys", "load", str(library_path())],
                                       catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "loaded: fft v" in result.output
    return env


# -- webhook administration ----------------------------------------------------------------


def test_set_webhook_registers_the_public_url_and_secret(
    env: dict[str, str | None], api: FakeTelegramAPI
) -> None:
    result = run(env, "set-webhook")
    assert result.exit_code == 0, result.output
    assert result.output == f"Telegram will post updates to {PUBLIC}{WEBHOOK_PATH}\n"
    assert api.calls("setWebhook") == [{
        "url": "https://withus.example.org/webhooks/telegram",
        "secret_token": SECRET,
        "allowed_updates": ["message", "callback_query", "my_chat_member"],
    }]  # fmt: skip
    assert SECRET not in result.output


@pytest.mark.parametrize(
    ("unset", "value", "complaint"),
    [
        ("WITHUS_PUBLIC_URL", None, "set WITHUS_PUBLIC_URL first"),
        ("TELEGRAM_WEBHOOK_SECRET", None, "set TELEGRAM_WEBHOOK_SECRET first"),
        ("TELEGRAM_BOT_TOKEN", None, "set TELEGRAM_BOT_TOKEN first"),
        ("WITHUS_PUBLIC_URL", "http://withus.example.org", "must start with https://"),
        ("TELEGRAM_WEBHOOK_SECRET", "has spaces and $igns", "only letters, digits"),
    ],
)
def test_set_webhook_refuses_incomplete_configuration(
    env: dict[str, str | None], api: FakeTelegramAPI, unset: str, value: str | None,
    complaint: str,
) -> None:
    result = run({**env, unset: value}, "set-webhook")
    assert result.exit_code == 2
    assert complaint in result.output
    assert api.requests == []  # nothing half-done at Telegram


def test_a_rejected_token_is_a_clear_error_that_does_not_print_it(
    env: dict[str, str | None], api: FakeTelegramAPI
) -> None:
    api.fail_next("unauthorized", method="getMe")
    result = run(env, "set-webhook")
    assert result.exit_code == 1
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in result.output
    assert TOKEN not in result.output and TOKEN.split(":")[1] not in result.output


def test_delete_webhook(env: dict[str, str | None], api: FakeTelegramAPI) -> None:
    result = run({**env, "WITHUS_PUBLIC_URL": None, "TELEGRAM_WEBHOOK_SECRET": None},
                 "delete-webhook")
    assert result.exit_code == 0, result.output
    assert len(api.calls("deleteWebhook")) == 1


def test_the_webhook_path_is_the_one_the_app_serves() -> None:
    from bot.web.webhooks import bp

    assert f"{bp.url_prefix}/telegram" == WEBHOOK_PATH


def test_withus_has_the_telegram_commands() -> None:
    assert main.commands.get("telegram") is telegram  # main.add_command(telegram) in bot.cli


# -- polling -------------------------------------------------------------------------------


def test_poll_answers_messages_and_button_presses(loaded: dict[str, str | None],
                                                 api: FakeTelegramAPI) -> None:
    api.push_update(tg_text(700001, "/start fft", CHAT))
    result = run(loaded, "poll", "--once", "--timeout", "0")
    assert result.exit_code == 0, result.output
    assert [m["text"] for m in api.messages] == [LANGUAGE]
    assert api.messages[0]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "English", "callback_data": "lang:en"}

    # Replies to one chat are paced at one a second, in real time here: keep them few.
    api.push_update({"update_id": 700002, "message": "junk that PTB cannot read"})
    api.push_update(tg_button(700003, "lang:en", query_id="cq-700003"))
    result = run(loaded, "poll", "--once", "--timeout", "0")
    assert result.exit_code == 0, result.output
    assert [m["text"] for m in api.messages] == [LANGUAGE, INTRO, CONSENT]
    assert api.calls("answerCallbackQuery") == [{"callback_query_id": "cq-700003"}]
    # Confirmed up to the last update, junk included, so no run fetches them again.
    assert api.calls("getUpdates")[-1]["offset"] == "700004"
    assert api.updates == []

    engine = create_engine(str(loaded["WITHUS_DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            started = connection.execute(select(Response.survey_id, Response.language)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in started] == [("fft", "en")]


def test_updates_fetched_again_are_not_answered_twice(loaded: dict[str, str | None],
                                                     api: FakeTelegramAPI) -> None:
    """If a run stops before confirming (a crash, a lost connection), the next run gets the
    same updates again; they are recognised and ignored."""
    update = tg_text(700101, "/start fft", CHAT)
    api.push_update(update)
    assert run(loaded, "poll", "--once", "--timeout", "0").exit_code == 0
    api.push_update(update)  # Telegram never heard our confirmation
    assert run(loaded, "poll", "--once", "--timeout", "0").exit_code == 0
    assert [m["text"] for m in api.messages] == [LANGUAGE]


def test_poll_without_a_webhook_secret(loaded: dict[str, str | None],
                                       api: FakeTelegramAPI) -> None:
    api.push_update(tg_text(700201, "hello", CHAT))
    result = run({**loaded, "TELEGRAM_WEBHOOK_SECRET": None, "WITHUS_PUBLIC_URL": None},
                 "poll", "--once", "--timeout", "0")
    assert result.exit_code == 0, result.output
    assert [m["text"] for m in api.messages] == [LANGUAGE]


def test_poll_once_reports_a_telegram_failure(loaded: dict[str, str | None],
                                              api: FakeTelegramAPI) -> None:
    api.fail_next("server_error", method="getUpdates")
    result = run(loaded, "poll", "--once", "--timeout", "0")
    assert result.exit_code == 1
    assert "could not fetch or handle Telegram updates" in result.output
    assert api.messages == []


def test_poll_needs_a_token(env: dict[str, str | None]) -> None:
    result = run({**env, "TELEGRAM_BOT_TOKEN": None}, "poll", "--once")
    assert result.exit_code == 2
    assert "set TELEGRAM_BOT_TOKEN first" in result.output
