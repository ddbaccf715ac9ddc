"""`withus surveys load` takes consultation files, and `withus chat` can run one: real
subprocesses on both databases, as organisers use them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, select

from storage.models import Statement, Vote
from surveys.consultation import Consultation
from surveys.loader import library_path, load_file
from tests.test_cli import env, withus

__all__ = ["env"]  # the fixture, shared with the CLI tests


def test_surveys_load_stores_a_consultation_and_its_seeds_once(env: dict[str, str],
                                                               database_url: str,
                                                               tmp_path: Path) -> None:
    fair = load_file(library_path() / "fair_pay.yaml")
    assert isinstance(fair, Consultation)
    assert withus(["db", "upgrade"], env).returncode == 0
    loaded = withus(["surveys", "load", str(library_path())], env)
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded: fairpay v2 (Fair pay for care workers)" in loaded.stdout
    again = withus(["surveys", "load", str(library_path() / "fair_pay.yaml")], env)
    assert "unchanged: fairpay v2" in again.stdout
    listing = withus(["surveys", "list"], env).stdout
    assert "fairpay\tFair pay for care workers\tv2\t" in listing

    script = "yes\nEveryone who does care work.\n1\n2\n3\nno\n"
    chat = withus(["chat", "fairpay", "--address", "07700 900472"], env, stdin=script)
    assert chat.returncode == 0, chat.stderr
    assert "1 Agree\n2 Disagree\n3 Not sure\n\nReply with a number from 1 to 3" in chat.stdout
    assert "Question 2 of 4" in chat.stdout

    broken = tmp_path / "broken.yaml"
    broken.write_text((library_path() / "fair_pay.yaml").read_text().replace(
        "closes: 2027-03-31", ""))
    failed = withus(["surveys", "load", str(broken)], env)
    assert failed.returncode == 2
    assert f"error: {broken}: 'closes' is missing" in failed.stderr

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            seeds = connection.execute(select(func.count()).select_from(Statement)
                                       .where(Statement.seed.is_(True))).scalar_one()
            votes = connection.execute(select(Vote.vote).order_by(Vote.voted_at)).scalars()
            assert sorted(votes) == ["agree", "disagree", "pass"]
        assert seeds == len(fair.seed_statements())  # loaded twice, stored once
    finally:
        engine.dispose()
