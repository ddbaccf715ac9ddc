"""The lock file production installs from (requirements.lock), and whether it is in step.

    python tools/lock.py write   # re-resolve pyproject.toml's dependencies (needs PyPI)
    python tools/lock.py check   # offline: is requirements.lock in step with pyproject.toml?

`write` runs `uv pip compile` (uv is a dev dependency) for every platform Python 3.11
runs on, with the hash of every file, and records in the lock's header a SHA-256 of
pyproject.toml's `dependencies` and `requires-python`. `check` needs no network: it fails
when that hash differs (the dependencies changed since the lock was written), when a
dependency has no pinned version in the lock or one outside its range, or when a pin
has no hash (the Dockerfile installs with pip's --require-hashes). `make test` runs it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
MARK = "# pyproject.toml dependencies sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def fingerprint(pyproject: Path = PYPROJECT) -> str:
    """SHA-256 of the dependencies and Python versions that the lock was resolved for."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = {"dependencies": sorted(project.get("dependencies", [])),
              "requires-python": project.get("requires-python", "")}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def pins(lock_text: str) -> dict[str, tuple[str, bool]]:
    """Every `name==version` in the lock, with whether a --hash follows it."""
    found: dict[str, tuple[str, bool]] = {}
    lines = lock_text.splitlines()
    for n, line in enumerate(lines):
        match = _PIN.match(line)
        if match:
            hashed = n + 1 < len(lines) and lines[n + 1].strip().startswith("--hash=")
            found[canonicalize_name(match.group(1))] = (match.group(2), hashed)
    return found


def problems(pyproject: Path = PYPROJECT, lock: Path = LOCK) -> list[str]:
    """Why the lock is not in step with pyproject.toml (empty when it is)."""
    if not lock.exists():
        return [f"{lock.name} is missing: run `make lock`"]
    text = lock.read_text(encoding="utf-8")
    found: list[str] = []
    if MARK + fingerprint(pyproject) not in text:
        found.append(f"pyproject.toml's dependencies changed since {lock.name} was written: "
                     "run `make lock`")
    pinned = pins(text)
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    for line in project.get("dependencies", []):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            found.append(f"{requirement.name} is not pinned in {lock.name}")
        elif not requirement.specifier.contains(pinned[name][0], prereleases=True):
            found.append(f"{requirement.name}=={pinned[name][0]} in {lock.name} is outside "
                         f"{requirement.specifier}")
    found += [f"{name}=={version} has no --hash in {lock.name}"
              for name, (version, hashed) in sorted(pinned.items()) if not hashed]
    return found


def write() -> None:
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "pip", "compile", str(PYPROJECT), "--universal",
                    "--python-version", "3.11", "--generate-hashes", "--quiet",
                    "--custom-compile-command", "make lock", "-o", str(LOCK)],
                   check=True, cwd=ROOT)
    text = LOCK.read_text(encoding="utf-8")
    LOCK.write_text(f"{MARK}{fingerprint()}\n{text}", encoding="utf-8")
    print(f"wrote {LOCK.name}: {len(pins(text))} packages")


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "write":
        write()
        return 0
    if command != "check":
        print(__doc__, file=sys.stderr)
        return 2
    found = problems()
    for problem in found:
        print(f"lock: {problem}", file=sys.stderr)
    if not found:
        print(f"{LOCK.name} is in step with pyproject.toml")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
