"""Who is writing, and who a person can talk to: the organisation's own words.

Configured once (WITHUS_ORG_NAME, WITHUS_CONTACT) and handed to the engine with the
catalogue, so the first message a newcomer gets says who we are, and HELP names a person
to contact. Plain data: the pure core never reads settings itself.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The name used when none is configured.
DEFAULT_NAME = "WithUs"


@dataclass(frozen=True)
class Organisation:
    #: As people know it, e.g. "Cwm Taf Carers". Said in the first message to a newcomer.
    name: str = DEFAULT_NAME
    #: How to reach a person, as it reads after "To talk to a person:", e.g. "call Sam on
    #: 01632 960123" or "email carers@example.org". Empty: HELP names no one.
    contact: str = ""


#: What `withus surveys lint` measures with: a contact of a typical length, so a system
#: message that would only fit without one is caught before anyone configures theirs.
EXAMPLE = Organisation("Cwm Taf Carers", "call Sam on 01632 960123")
