"""Long CLI work shows a progress bar on a terminal, and nothing extra anywhere else.

On a terminal, the command runs as a person runs it: in a subprocess whose stderr is a
real pseudo-terminal (os.openpty). Elsewhere (a pipe, cron, a log file) it runs under
click's CliRunner, whose streams are not terminals.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main as withus
from tests.browser.seed import FFT_PEOPLE, seed
from tests.conftest_db import TEST_VAULT_KEY
from tests.helpers import FakeClock, make_runtime

pytestmark = pytest.mark.timeout(120)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WITHUS_", "TWILIO_", "TELEGRAM_"))}
    return env | {
        "WITHUS_DATABASE_URL": f"sqlite:///{tmp_path / 'withus.db'}",
        "WITHUS_INSTANCE_PATH": str(tmp_path / "instance"),
        "WITHUS_VAULT_KEYS": TEST_VAULT_KEY, "WITHUS_SECRET_KEY": "test",
        "WITHUS_PSEUDONYM_KEY": "test-pseudonym-key-of-32-bytes-or-more!",
    }


def _withus(args: list[str], env: dict[str, str], terminal: bool) -> tuple[int, str, str]:
    """Run `withus ARGS`: (exit code, stdout, stderr), stderr on a terminal or not."""
    if not terminal:
        done = CliRunner().invoke(withus, args, env=env)  # type: ignore[arg-type]
        return done.exit_code, done.stdout, done.stderr
    command = [sys.executable, "-m", "bot.cli", *args]
    leader, follower = os.openpty()
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                          stderr=follower) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            chunks.append(data)
        os.close(leader)
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        code = proc.wait(timeout=100)
    return code, out, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = _env(tmp_path)
    runtime = make_runtime(values["WITHUS_DATABASE_URL"], tmp_path / "instance",
                           clock=FakeClock())
    seed(runtime, "fft", FFT_PEOPLE)
    runtime.close()
    return values


def test_contacts_import_shows_a_progress_bar_only_on_a_terminal(
        env: dict[str, str], tmp_path: Path) -> None:
    contacts = tmp_path / "big.csv"
    # Ofcom's drama numbers (07700 900000 to 900999): never anyone's.
    contacts.write_text("phone\n" + "".join(f"07700 900{n:03d}\n" for n in range(300)))
    code, out, err = _withus(["contacts", "import", str(contacts), "--channel", "sms",
                              "--cohort", "big"], env, terminal=True)
    assert code == 0, err
    assert "importing big.csv" in err and "100%" in err
    assert "\r" in err  # redrawn in place as it goes
    assert out.strip() == "cohort big: imported 300, duplicates 0, invalid 0"
    assert "7700" not in err + out

    code, out, err = _withus(["contacts", "import", str(contacts), "--channel", "sms",
                              "--cohort", "again"], env, terminal=False)
    assert code == 0, err
    assert "importing" not in err and "%" not in err
    assert out.strip() == "cohort again: imported 300, duplicates 0, invalid 0"


def test_export_shows_a_progress_bar_only_on_a_terminal(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    code, out, err = _withus(["export", "fft", "--output", str(tmp_path / "fft.csv")], env,
                             terminal=True)
    assert code == 0, err
    assert "exporting fft" in err and "100%" in err
    assert f"wrote {len(FFT_PEOPLE)} responses" in out
    code, out, err = _withus(["export", "fft", "--output", str(tmp_path / "again.csv")], env,
                             terminal=False)
    assert code == 0, err
    assert "exporting" not in err and "%" not in err
