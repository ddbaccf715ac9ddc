"""How a reply looks as plain text on a channel without buttons (SMS, the console).

The engine's replies are channel-neutral: text plus choices. Where buttons are not
available the choices become numbered lines and a short instruction. The words of that
instruction are a system message like any other, so they go through the catalogue and
reach a Welsh speaker in Welsh. `surveys.lint` renders prompts with this function so
that the lengths and SMS segments it reports are those of the message actually sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from surveys.i18n import gettext as _


def numbered(text: str, labels: Sequence[str], multiple: bool = False,
             language: str | None = None) -> str:
    """`text`, then one numbered line per choice, then how to reply.

    A scale's choices are its own numbers ("1" to "5"): listing them would read "1 1 /
    2 2 / 3 3", so they are left out, and the question's own line says how to reply
    ("Reply 1 (None at all) to 5 (Plenty)."); only a text that doesn't name the ends gets
    "Reply with a number from 1 to 5".
    """
    if not labels:
        return text
    if _own_numbers(labels):
        first, last = labels[0], labels[-1]
        if re.search(rf"\b{first}\b", text) and re.search(rf"\b{last}\b", text):
            return text
        return "\n".join([text, "", _(language, "Reply with a number from {low} to {high}",
                                      low=first, high=last)])
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


def _own_numbers(labels: Sequence[str]) -> bool:
    """Labels that are consecutive whole numbers ("1", "2", ... or "0" ... "10")."""
    if len(labels) < 2 or not all(label.isdigit() for label in labels):
        return False
    start = int(labels[0])
    return [int(label) for label in labels] == list(range(start, start + len(labels)))
