"""How a reply looks as plain text on a channel without buttons (SMS, the console).

The engine's replies are channel-neutral: text plus choices. Where buttons are not
available the choices become numbered lines and a short instruction. The words of that
instruction are a system message like any other, so they go through the catalogue and
reach a Welsh speaker in Welsh. `surveys.lint` renders prompts with this function so
that the lengths and SMS segments it reports are those of the message actually sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from surveys.i18n import gettext as _


def numbered(text: str, labels: Sequence[str], multiple: bool = False,
             language: str | None = None) -> str:
    """`text`, then one numbered line per choice, then how to reply."""
    if not labels:
        return text
    lines = [text, ""]
    lines += [f"{i} {label}" for i, label in enumerate(labels, start=1)]
    count = len(labels)
    if multiple:
        lines += ["", _(language, "Reply with all the numbers that apply, e.g. 1 3")]
    elif count == 2:
        lines += ["", _(language, "Reply 1 or 2")]
    else:
        lines += ["", _(language, "Reply with a number from 1 to {count}", count=count)]
    return "\n".join(lines)
