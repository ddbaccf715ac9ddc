"""The `withus` command as users run it: real subprocesses, real databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from storage.models import Answer, Consent, Response
from tests.conftest_db import TEST_VAULT_KEY
from tests.privacy import scan_database

WITHUS = Path(sys.executable).with_name("withus")
COMMAND = [str(WITHUS)] if WITHUS.exists() else [sys.executable, "-m", "bot.cli"]
LIBRARY = Path(__file__).parents[1] / "surveys" / "library"
PHONE = "07700 900461"


def withus(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, "--log-format", "text", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
    values.update(WITHUS_DATABASE_URL=database_url, WITHUS_INSTANCE_PATH=str(tmp_path / "inst"),
                  WITHUS_VAULT_KEYS=TEST_VAULT_KEY,
                  WITHUS_PSEUDONYM_KEY="a-test-pseudonym-key-that-is-long-enough",
                  WITHUS_SECRET_KEY="test")
    return values


def test_chat_completes_fft_and_stores_it_under_a_pseudonym(env: dict[str, str],
                                                            database_url: str) -> None:
    assert withus(["db", "upgrade"], env).returncode == 0
    loaded = withus(["surveys", "load", str(LIBRARY)], env)
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded: fft v4" in loaded.stdout
    script = "1\nyes\n2\nThe carers were lovely but always in a rush.\n1\n1\n"
    chat = withus(["chat", "fft", "--address", PHONE], env, stdin=script)
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "Overall, how was your experience of our service?" in out
    assert "1 Very good\n2 Good\n3 Neither good nor poor" in out
    assert "Reply with a number from 1 to 6" in out
    assert out.rstrip().endswith("what we learned and what changes.")
    listing = withus(["surveys", "list"], env)
    # One person: below WITHUS_MIN_CELL, so the same words as the dashboard.
    assert ("fft\tYour experience of care\tv4\tfewer than 10 started, fewer than 10 completed"
            in listing.stdout)

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            response = connection.execute(select(Response.__table__)).mappings().one()
            answers = connection.execute(select(Answer.question_id, Answer.value)).all()
            consent = connection.execute(select(Consent.decision)).scalar_one()
            vault = connection.execute(text("SELECT count(*) FROM vault_entries")).scalar_one()
        assert response["status"] == "completed" and response["channel"] == "console"
        assert response["quote_ok"] and response["share_back"]
        assert sorted(answers) == [("overall", "good"),
                                   ("why", "The carers were lovely but always in a rush.")]
        assert consent == "given" and vault == 1
        assert scan_database(engine, ["+447700900461"]) == []
    finally:
        engine.dispose()
    for stream in (chat.stdout, chat.stderr, loaded.stderr):
        assert "7700900461" not in stream.replace(" ", "")


def test_a_broken_survey_file_is_a_clear_error_and_exit_2(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text((LIBRARY / "fft.yaml").read_text().replace("type: free_text", "type: essay"))
    result = withus(["surveys", "load", str(bad)], env)
    assert result.returncode == 2
    assert f"error: {bad}: question 'why': 'type' must be one of" in result.stderr
    listing = withus(["surveys", "list"], env)
    assert "no surveys loaded" in listing.stdout  # nothing half-loaded


def test_chat_with_an_unknown_survey_says_what_to_do(env: dict[str, str]) -> None:
    result = withus(["chat", "nope"], env, stdin="")
    assert result.returncode == 2
    assert "survey 'nope' is not loaded" in result.stderr


def test_production_refuses_to_start_without_its_secrets(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "WITHUS_VAULT_KEYS"} | {"WITHUS_ENV": "production"}
    result = withus(["surveys", "list"], env)
    assert result.returncode != 0
    assert "WITHUS_VAULT_KEYS" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_the_commands_users_rely_on(env: dict[str, str]) -> None:
    out = withus(["--help"], env).stdout
    for command in ("db", "surveys", "chat", "serve", "web", "scheduler", "keys"):
        assert f"  {command}" in out


def test_surveys_open_close_archive_and_the_status_column(env: dict[str, str]) -> None:
    assert withus(["db", "upgrade"], env).returncode == 0
    assert withus(["surveys", "load", str(LIBRARY)], env).returncode == 0
    listing = withus(["surveys", "list"], env)
    assert ("fft\tYour experience of care\tv4\tfewer than 10 started, fewer than 10 completed"
            "\topen") in listing.stdout
    closed = withus(["surveys", "close", "fft"], env)
    assert closed.returncode == 0, closed.stderr
    assert "fft is now closed: it has left the participants' menu" in closed.stdout
    assert "fewer than 10 completed\tclosed" in withus(["surveys", "list"], env).stdout
    # A closed survey is not offered: choosing it by name says so.
    chat = withus(["chat", "fft", "--address", PHONE], env, stdin="1\n")
    assert "has now closed" in chat.stdout
    opened = withus(["surveys", "open", "fft"], env)
    assert opened.returncode == 0 and "fft is now open" in opened.stdout
    archived = withus(["surveys", "archive", "fft"], env)
    assert archived.returncode == 0 and "fft is now archived" in archived.stdout
    assert "fewer than 10 completed\tarchived" in withus(["surveys", "list"], env).stdout


@pytest.mark.parametrize("command", ["open", "close", "archive"])
def test_surveys_status_commands_refuse_an_unknown_id(env: dict[str, str],
                                                      command: str) -> None:
    assert withus(["db", "upgrade"], env).returncode == 0
    result = withus(["surveys", command, "nosuch"], env)
    assert result.returncode == 2
    assert "no survey or consultation with the id 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr
    missing = withus(["surveys", command], env)
    assert missing.returncode == 2 and "Missing argument 'ID'" in missing.stderr
