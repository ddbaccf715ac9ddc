"""Golden transcripts: scripted conversations whose replies and stored records are checked in.

Run `pytest tests/test_engine_golden.py --update-golden` after an intended change, then
read the diff: it shows exactly what participants will see differently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys.consultation import Consultation
from surveys.conversation import Event, Reply
from surveys.engine import Catalog
from surveys.loader import library_path, load_file
from surveys.model import Survey
from surveys.organisation import Organisation
from tests.engine_transcript import run
from tests.personas import CHANNELS, TWILIO_STOP_WORDS

GOLDEN = Path(__file__).with_name("golden")
SURVEY_FOLDERS = (library_path(), Path(__file__).parent / "data" / "surveys")


def _survey_file(survey_id: str) -> Path:
    for folder in SURVEY_FOLDERS:
        for candidate in folder.glob("*.yaml"):
            if load_file(candidate).id == survey_id:
                return candidate
    raise AssertionError(f"no survey file with id {survey_id}")


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a transcript must read top to bottom, without &anchors


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _catalog(spec: dict[str, Any]) -> Catalog:
    items = [load_file(_survey_file(sid)) for sid in spec.get("surveys", [])]
    organisation = Organisation(**spec["organisation"]) if "organisation" in spec else (
        Organisation())
    return Catalog({s.id: s for s in items if isinstance(s, Survey)}, spec.get("default_survey"),
                   {c.id: c for c in items if isinstance(c, Consultation)},
                   organisation=organisation)


def _channel_renderer(name: str | None) -> Any:
    """With `channel: sms|whatsapp|telegram`, replies read as that channel shows them
    (numbered choices where it has no buttons; on SMS, Twilio's own STOP confirmation)."""
    if name is None:
        return None
    model = next(c for c in CHANNELS if c.name == name)

    def render(reply: Reply, event: Event, state: dict[str, Any]) -> list[str]:
        if model.provider_confirms_stop and event.kind == "text" and (
                event.text.strip().upper() in TWILIO_STOP_WORDS):
            return ["(Twilio confirms the opt-out itself; we send nothing)"]
        parts = model.render(reply, str(state.get("lang") or "en"))
        labels = " | ".join(c.label for c in reply.choices)
        buttons = reply.choices and not reply.multiple and len(reply.choices) <= model.max_buttons
        return [p + (f"\n  [{labels}]" if buttons else "") for p in parts]

    return render


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_transcript_matches_golden(path: Path, request: pytest.FixtureRequest) -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    transcript = run(_catalog(spec), spec["events"], spec.get("statements"),
                     _channel_renderer(spec.get("channel")), spec.get("channel"))
    if request.config.getoption("--update-golden"):
        spec["transcript"] = transcript
        path.write_text(yaml.dump(spec, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                                  width=100), encoding="utf-8")
        return
    assert "transcript" in spec, f"{path.name} has no transcript: run with --update-golden"
    assert transcript == spec["transcript"]


def test_every_golden_file_has_a_description() -> None:
    files = sorted(GOLDEN.glob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        assert yaml.safe_load(path.read_text(encoding="utf-8")).get("description"), path.name
