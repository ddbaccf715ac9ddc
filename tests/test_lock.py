"""requirements.lock, which the Dockerfile installs from, is in step with pyproject.toml.

`make test` runs `tools/lock.py check` too; this also shows the check can fail, on a copy
of pyproject.toml and the lock with one thing changed at a time.
"""

from __future__ import annotations

from pathlib import Path

from tools.lock import LOCK, PYPROJECT, problems

ROOT = Path(__file__).resolve().parent.parent


def test_the_lock_is_in_step_with_pyproject() -> None:
    assert problems() == []
    assert "COPY requirements.lock" in (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in (ROOT / "Dockerfile").read_text()


def copies(tmp_path: Path) -> tuple[Path, Path]:
    pyproject, lock = tmp_path / "pyproject.toml", tmp_path / "requirements.lock"
    pyproject.write_text(PYPROJECT.read_text())
    lock.write_text(LOCK.read_text())
    return pyproject, lock


def test_a_changed_dependency_needs_a_new_lock(tmp_path: Path) -> None:
    pyproject, lock = copies(tmp_path)
    pyproject.write_text(pyproject.read_text().replace('"flask>=3.0,<4"', '"flask>=3.0,<3.1"'))
    found = problems(pyproject, lock)
    assert any("changed since" in p for p in found)
    assert any(p.startswith("flask==") and "outside <3.1" in p for p in found)
    pyproject.write_text(PYPROJECT.read_text().replace(
        '"tzdata>=2024.1",', '"tzdata>=2024.1",\n  "left-pad>=1",'))
    assert "left-pad is not pinned in requirements.lock" in problems(pyproject, lock)


def test_a_pin_without_a_hash_is_refused(tmp_path: Path) -> None:
    pyproject, lock = copies(tmp_path)
    text = lock.read_text()
    start = text.index("\nflask==") + 1
    end = text.index("\n", start)
    lock.write_text(text[:start] + text[start:end].rstrip(" \\") + "\n# dropped" + text[end:])
    assert [p for p in problems(pyproject, lock) if "no --hash" in p] == [
        f"flask=={text[start:end].split('==')[1].split()[0]} has no --hash in requirements.lock"]
    lock.unlink()
    assert problems(pyproject, lock) == ["requirements.lock is missing: run `make lock`"]
