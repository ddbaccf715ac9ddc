"""Friends and Family Test responses at the sizes a coproduction group sees, spread over
days: for the figures, the timeline and the printable summary (unit and browser tests)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from bot.services.runtime import Runtime
from tests.browser.seed import SKIP, Person, seed

#: The 32-response FFT of issue 16: 17 Very good, 9 Good, 2 Neither, 2 Poor, 1 Very poor,
#: 1 Don't know. % positive = 26 / 32 = 81%, % negative = 3 / 32 = 9%.
FFT_32 = (["very_good"] * 17 + ["good"] * 9 + ["neither"] * 2 + ["poor"] * 2
          + ["very_poor"] + ["dont_know"])
WORDS = ["The nurses explained everything.", "Waiting room was cold.",
         "Kind staff on reception.", "Nobody rang me back about my results.",
         "Parking was hard.", "They listened to my daughter."]


def fft_people(ratings: list[str]) -> list[Person]:
    """One person per rating; most write why, one in three agreed to be quoted."""
    people = []
    for i, rating in enumerate(ratings):
        why: object = f"{WORDS[i % len(WORDS)]} ({i})" if i % 4 != 3 else SKIP
        people.append(Person({"overall": rating, "why": why},
                             channel="whatsapp" if i % 3 == 0 else "sms",
                             quote_ok=(i % 3 == 1)))
    return people


def seed_over_days(runtime: Runtime, survey_id: str, people: list[Person], start: datetime,
                   days: int) -> None:
    """Store the people as if they started over `days` days from `start`, more early on."""
    by_day: dict[int, list[Person]] = {}
    pattern = itertools.cycle([0, 0, 1, 0, 2, 1, 3, 5, 8, 13])
    for person, offset in zip(people, pattern, strict=False):
        # The pattern spans 14 days; stretched or squeezed to `days`.
        by_day.setdefault(round(offset * (days - 1) / 13), []).append(person)
    for offset, group in sorted(by_day.items()):
        seed(runtime, survey_id, group, when=start + timedelta(days=offset, hours=offset % 7))


def ratings(n: int) -> list[str]:
    """n FFT ratings, mixed, in the proportions of FFT_32 for every 32 (12: 7 Very good,
    3 Good, 1 Poor, 1 Don't know)."""
    return [FFT_32[(i * 7) % len(FFT_32)] for i in range(n)]
