"""Names, places and care settings, found by looking words up in context.

Capital letters alone say little in a text message ("I Called the office"),
and a list alone says too much ("Will you ring?", "Reading helps"), so each
word is weighed with its neighbours:

- a *first name* that is not an everyday word ("Jean", "Tomasz") is a name
  when capitalised; one that is ("Will", "Grace", "Dawn") needs a cue: a
  verb people use with names ("ring", "ask", "gofyn i"), a capital in the
  middle of a sentence, or, at the start, a verb after it ("Will said");
  a lower-case name needs a cue word before it ("ring shirley");
- a *place* from the gazetteer is a place in any case ("harrogate"), unless
  it is also an everyday word ("Bath", "Reading", "Hope"), when it needs a
  capital and a word such as "in", "from" or "near" before it; Welsh
  mutations are undone after Welsh prepositions ("yng Nghaerdydd");
- a *care setting* is one to three capitalised words before a word such as
  Care Home, Surgery, Ward or Lodge ("Elm Tree Surgery"), or after Ysbyty,
  Meddygfa or Cartref, or a saint's name ("St Mary's"), or what someone
  says they work at. Generic phrases ("the care home", "a GP surgery") have
  no name in front and are left alone. The generic word itself stays
  ("[PLACE] Surgery"), so the answer still reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from surveys.redaction_lexicon import WORD, Lexicon, fold, lexicon

__all__ = ["word_candidates"]

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


Span = tuple[str, int, int]

# Words before a name: the verbs people use with one, in English and Welsh
# (with the mutated forms: "i weld Elin", "ei ffonio").
_NAME_VERBS = _words(
    """ring rang rung rings ringing call called calls calling phone phoned phoning
    ask asked asks asking tell told tells telling text texted texts texting txt txted
    see saw seen sees seeing meet met meets meeting visit visited visits visiting
    from with thank thanks cheers message messaged email emailed contact contacted get let
    ffonio ffonia ffoniwch ffoniais ffoniodd ffonio ffonies galw galwch galwais alw
    ofyn gofynnwch gofynnais gofynnodd wrth dywedwch dywedais dwedais dweud ddweud
    tecstio tecstiwch tecstia decstio gweld weld welais gwelais gan gyda gydag efo hefo
    â ag diolch"""
)
# "gofyn i Rhys", "diolch i Siân": "i" is a cue only after these.
_BEFORE_WELSH_I = ("gofyn", "ofyn", "gofynn", "diolch")
# Family and roles, in both languages, for lower-case names ("my mate kev").
_RELATIONS = _words(
    """mum mam mom mummy mother dad daddy father husband hubby wife partner son daughter
    brother sister bro sis nan nana nanna nanny gran granny grandma grandad grandpa aunt
    auntie aunty uncle cousin niece nephew friend mate neighbour neighbor boyfriend
    girlfriend carer colleague fam nhad tad taid nain gŵr ngŵr wr gwr ngwr gwraig ngwraig
    wraig merch ferch mab fab chwaer brawd mrawd frawd ffrind nyrs gofalwr ofalwr
    gofalwraig ofalwraig"""
)
# Titles before a surname typed in lower case ("mrs patel"); "dr" and "nurse"
# are left out because "dr appointment" and "nurse visits" are far commoner.
_LOWER_TITLES = _words("mr mrs ms miss mx cllr")
# After a name at the start of a sentence: "Will said", "Grace was", not
# "Will you" or "Hope this helps".
_PERSON_VERBS = _words(
    """said says came comes rang rings called calls told tells does did has had was would
    could can't cannot won't doesn't didn't wasn't isn't hasn't helps helped visits
    visited works worked sorted cried left died went goes gets got brought took takes
    sang sings drove drives phoned texted asked knows knew never always also at from
    from's"""
)
_AFTER_IS = _words(
    """the a an my our his her their always never so very really lovely brilliant great
    amazing wonderful kind one"""
)

_PLACE_CUES = _words(
    """in at from near to into round around outside towards toward via nr
    yn ym yng i o ger am drwy trwy tua hyd heibio"""
)
_WELSH_MUTATING = frozenset(
    _words("yn ym yng i o a â ger am drwy trwy dros heb gan at wrth hyd tua ac")
)
# Initial letters a Welsh mutation gives, and what they may have been.
_UNMUTATE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Ngh", ("C",)),
    ("Mh", ("P",)),
    ("Nh", ("T",)),
    ("Ng", ("G",)),
    ("Ch", ("C",)),
    ("Ph", ("P",)),
    ("Th", ("T",)),
    ("Dd", ("D",)),
    ("M", ("B",)),
    ("N", ("D",)),
    ("G", ("C",)),
    ("B", ("P",)),
    ("D", ("T",)),
    ("F", ("B", "M")),
    ("L", ("Ll",)),
    ("R", ("Rh",)),
)

# Words that end a care setting's name. The first kind joins the name
# ("Oak Tree Manor" is hidden whole); the second is generic and stays
# ("[PLACE] Surgery").
_NAME_KINDS = _words("lodge house court manor grange hall general infirmary")
_KEPT_KINDS = _words(
    """home hospital surgery practice clinic ward unit centre center school academy college
    hospice pharmacy living residential nursery chemist"""
)
# Generic words that may sit inside the kind but never end it ("Day Centre").
_KIND_PARTS = frozenset(
    _words("care nursing residential medical health day supported primary community resource")
)
_KINDS = _NAME_KINDS | _KEPT_KINDS | _KIND_PARTS
# Welsh kinds come first: "Ysbyty Glan Morfa", "yng Nghartref Bryn Eithin".
_WELSH_KINDS = _words(
    """ysbyty meddygfa feddygfa cartref gartref nghartref chartref canolfan ganolfan
    ysgol hosbis clinig fferyllfa"""
)
_WELSH_FUNCTION = _words("mae yn ym yng y yr a ac i o ar gyda efo ond")
_WELSH_KIND_PARTS = _words("gofal ofal preswyl nyrsio dydd iechyd feddygol")
# Words that make a care setting generic rather than named: "the Memory
# Clinic", "a GP Surgery", "Local Hospital".
_GENERIC = _words(
    """the a an my our your his her their this that every any each another same local
    new old private council nhs gp community general district village town city main
    memory falls eye dental diabetes stroke cancer mental health children's childrens
    maternity outpatients outpatient physio pain sleep urgent treatment walk-in teaching
    psychiatric specialist respite dementia care nursing residential day medical
    day-care nearest nearby usual own good bad nice lovely awful decent proper rubbish
    mums mum's dads dad's nans nan's grans gran's sisters sister's brothers brother's
    big small best worst first last next previous current other only one two"""
)
_LIST_GAPS = frozenset({", ", ",", " & ", "&", " + ", " / ", "/"})
_CONJUNCTIONS = frozenset({"and", "or", "a", "ac", "neu", "then"})
_CALENDAR = _words(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday"""
)
# Everyday words the redactor never takes for a name unless the context says so.
_NAMES_DESPITE_STOPWORDS = frozenset({"will"})
# Nobody is "in Jean": after these a capitalised word is a place, if anything.
_ONLY_PLACES_AFTER = _words("in into near towards outside around yn ym yng ger")
# Countries and regions that are also first names.
_COUNTRIES = _words(
    """jamaica india kenya georgia israel jordan africa america asia china ireland paris
    chelsea florence sydney virginia carolina dakota montana nevada brooklyn phoenix
    barbados trinidad nigeria ghana poland romania lithuania italy spain france"""
)
_SAINTS = frozenset({"st", "saint", "sant"})
_SETTING_WORDS = _KINDS | _WELSH_KINDS | _SAINTS
_WORK_VERBS = frozenset(
    _words("work works worked working job jobs volunteer volunteers volunteered volunteering")
)
_WORK_PLACE_STOP = frozenset(
    _words("the a an my our home night nights days weekends christmas nhs gp")
)


class _Tok(NamedTuple):
    start: int
    end: int  # the possessive "'s" is left outside
    full_end: int  # with it
    text: str
    low: str
    cap: bool
    initial: bool  # starts a sentence


_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"[.!?\n:;(]")


def _tokenise(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    previous_end = 0
    for m in WORD.finditer(text):
        word = m.group()
        start = m.start()
        stem = word
        if len(word) > 3 and word[-2] in "'’" and word[-1] in "sS":
            stem = word[:-2]
        gap = text[previous_end:start]
        initial = not toks or (gap != " " and bool(_SENTENCE_BREAK.search(gap)))
        low = stem.casefold()
        if "’" in low:
            low = low.replace("’", "'")
        toks.append(
            _Tok(start, start + len(stem), m.end(), stem, low, stem[0].isupper(), initial)
        )
        previous_end = m.end()
    return toks


def _title_case(toks: list[_Tok]) -> bool:
    """Most words capitalised: capitals then say nothing about names."""
    return len(toks) >= 4 and sum(t.cap for t in toks) >= 0.6 * len(toks)


def _adjacent(text: str, a: _Tok, b: _Tok) -> bool:
    return text[a.full_end : b.start] in (" ", "\t")


def word_candidates(text: str, is_stopword: Callable[[str], bool]) -> Iterator[Span]:
    """Names, places and care settings in ``text``; ``is_stopword`` is the
    redactor's list of words that are never a name."""
    toks = _tokenise(text)
    if not toks:
        return
    scan = _Scan(text, toks, lexicon(), is_stopword)
    yield from scan.run()


class _Scan:
    def __init__(
        self, text: str, toks: list[_Tok], lex: Lexicon, is_stopword: Callable[[str], bool]
    ) -> None:
        self.text = text
        self.toks = toks
        self.lex = lex
        self.is_stopword = is_stopword
        self.title_case = _title_case(toks)
        self.lows = {t.low for t in toks}
        self.taken = [False] * len(toks)
        self.found: list[Span] = []

    def run(self) -> list[Span]:
        self._care_settings()
        self._places()
        self._names()
        return self.found

    # ------------------------------------------------------------ helpers

    def _prev(self, i: int, back: int = 1) -> _Tok | None:
        j = i - back
        return self.toks[j] if j >= 0 else None

    def _take(self, label: str, first: int, last: int, end: int | None = None) -> None:
        for k in range(first, last + 1):
            self.taken[k] = True
        start = self.toks[first].start
        self.found.append((label, start, self.toks[last].end if end is None else end))

    def _is_name_word(self, tok: _Tok) -> bool:
        """Could be a word of a care setting's name: "Elm", "Tree", "Tŷ"."""
        if not tok.cap or tok.low in _GENERIC or tok.low in _KINDS:
            return False
        if len(tok.text) > 1 and tok.text.isupper():
            return False  # GP, NHS, OT
        return not self.is_stopword(tok.text) or tok.low in self.lex.places

    # ----------------------------------------------------- care settings

    def _care_settings(self) -> None:
        toks = self.toks
        if not self.lows & _SETTING_WORDS:
            self._workplaces()
            return
        i = 0
        while i < len(toks):
            end = self._saint(i) or self._welsh_setting(i) or self._named_setting(i)
            i = end if end else i + 1
        self._workplaces()

    def _named_setting(self, i: int) -> int:
        """ "Elm Tree Surgery", "orchard lodge care home": index after it, or 0."""
        toks = self.toks
        lower = not toks[i].cap
        names: list[int] = []
        j = i
        while j < len(toks) and len(names) < 3:
            tok = toks[j]
            if names and not _adjacent(self.text, toks[j - 1], tok):
                break
            if tok.low in _KINDS:
                # "Manor Road Surgery": a kind followed by a name word is a name word.
                nxt = toks[j + 1] if j + 1 < len(toks) else None
                if not (
                    tok.cap
                    and tok.low in _NAME_KINDS
                    and nxt is not None
                    and nxt.low not in _KINDS
                    and _adjacent(self.text, tok, nxt)
                    and self._is_name_word(nxt)
                ):
                    break
                ok = True
            elif lower:
                ok = tok.low == tok.text and not self.is_stopword(tok.text)
                ok = ok and tok.low not in _GENERIC and tok.low not in self.lex.welsh
            else:
                ok = self._is_name_word(tok)
            if not ok:
                break
            names.append(j)
            j += 1
        if not names or j >= len(toks) or not _adjacent(self.text, toks[j - 1], toks[j]):
            return 0
        kinds: list[int] = []
        while j < len(toks) and toks[j].low in _KINDS and len(kinds) < 4:
            if kinds and not _adjacent(self.text, toks[j - 1], toks[j]):
                break
            kinds.append(j)
            j += 1
        # The kind must end in a noun ("Day Centre", not "Day"), and a name in
        # lower case needs a name-like kind first ("orchard lodge care home"),
        # since "a decent care home" has the same shape.
        while kinds and toks[kinds[-1]].low not in _NAME_KINDS | _KEPT_KINDS:
            kinds.pop()
        if not kinds:
            return 0
        if lower and (
            toks[kinds[0]].low not in _NAME_KINDS
            or len(kinds) < 2  # "my mums house", "beech house"
            or len(names) > 2
        ):
            return 0
        last = names[-1]
        for k in kinds:
            if toks[k].low in _NAME_KINDS:
                last = k
            else:
                break
        self._take("PLACE", names[0], last)
        for k in kinds:
            self.taken[k] = True
        return kinds[-1] + 1

    def _saint(self, i: int) -> int:
        """ "St Mary's", "St Luke's hospice": not the "St" ending a street."""
        toks = self.toks
        tok = toks[i]
        if tok.low not in _SAINTS or not tok.cap or i + 1 >= len(toks):
            return 0
        prev = self._prev(i)
        street = prev is not None and prev.cap and not prev.initial and not self.taken[i - 1]
        if street and prev and self.text[prev.full_end : tok.start] == " " and not (
            self.is_stopword(prev.text)
        ):
            return 0  # "High St", "Church St"
        nxt = toks[i + 1]
        if not nxt.cap or self.text[tok.full_end : nxt.start] not in (" ", ". ", "."):
            return 0
        last = i + 1
        if last + 1 < len(toks) and toks[last + 1].low in _NAME_KINDS:
            last += 1
        self._take("PLACE", i, last, end=toks[last].full_end)
        return last + 1

    def _welsh_setting(self, i: int) -> int:
        toks = self.toks
        if toks[i].low not in _WELSH_KINDS or not toks[i].cap:
            return 0
        j = i + 1
        while j < len(toks) and toks[j].low in _WELSH_KIND_PARTS:
            j += 1
        first = j
        while (
            j < len(toks)
            and j - first < 3
            and toks[j].cap
            and _adjacent(self.text, toks[j - 1], toks[j])
            and toks[j].low not in _WELSH_FUNCTION
        ):
            j += 1
        if j == first:
            return 0
        self._take("PLACE", first, j - 1)
        for k in range(i, first):
            self.taken[k] = True
        return j

    def _workplaces(self) -> None:
        """ "I work at Greggs", "volunteer at Oxfam": the next capitalised words."""
        toks = self.toks
        if not self.lows & _WORK_VERBS:
            return
        for i in range(1, len(toks) - 1):
            if toks[i].low not in ("at", "for") or toks[i - 1].low not in _WORK_VERBS:
                continue
            j = i + 1
            names: list[int] = []
            while j < len(toks) and len(names) < 3 and not self.taken[j]:
                tok = toks[j]
                if not tok.cap or tok.low in _WORK_PLACE_STOP or tok.low in _KINDS:
                    break
                if len(tok.text) > 1 and tok.text.isupper():
                    break
                if names and not _adjacent(self.text, toks[j - 1], tok):
                    break
                names.append(j)
                j += 1
            if names:
                self._take("PLACE", names[0], names[-1])

    # ------------------------------------------------------------ places

    def _places(self) -> None:
        toks = self.toks
        i = 0
        while i < len(toks):
            if self.taken[i]:
                i += 1
                continue
            low = toks[i].low
            matched = (low in self.lex.places and self._place_at(i)) or (
                toks[i].cap and self._welsh_place_at(i)
            )
            i = matched if matched else i + 1

    def _place_at(self, i: int) -> int:
        toks = self.toks
        tok = toks[i]
        for entry in self.lex.places.get(tok.low, ()):
            n = len(entry.words)
            if i + n > len(toks) or any(self.taken[i + k] for k in range(n)):
                continue
            if any(toks[i + k].low != entry.words[k] for k in range(n)):
                continue
            if any(not _adjacent(self.text, toks[i + k - 1], toks[i + k]) for k in range(1, n)):
                continue
            if not self._place_ok(i, entry.is_word, n):
                continue
            self._take("PLACE", i, i + n - 1)
            return i + n
        return 0

    def _place_ok(self, i: int, is_word: bool, n: int) -> bool:
        tok = self.toks[i]
        if n == 1 and tok.low in _CALENDAR:
            return False  # "in March", "by Sunday"
        if len(tok.text) > 1 and tok.text.isupper() and len(tok.text) < 4:
            return False
        prev = self._prev(i)
        cued = prev is not None and prev.low in _PLACE_CUES
        ambiguous = (
            is_word
            or (n == 1 and (self.is_stopword(tok.text) or tok.low in self.lex.welsh))
            or (n == 1 and tok.low in self.lex.name_words)
        )
        if ambiguous:
            return tok.cap and cued
        if n == 1 and tok.low in self.lex.names and not cued:
            return False  # "Chester came round": left to the names
        return tok.cap or len(tok.text) >= 4

    def _welsh_place_at(self, i: int) -> int:
        tok = self.toks[i]
        prev = self._prev(i)
        if not tok.cap or prev is None or prev.low not in _WELSH_MUTATING:
            return 0
        for mutated, radicals in _UNMUTATE:
            if not tok.text.startswith(mutated):
                continue
            for radical in radicals:
                folded = fold(radical + tok.text[len(mutated) :])
                if any(
                    len(e.words) == 1 and not e.is_word
                    for e in self.lex.places.get(folded, ())
                ):
                    self._take("PLACE", i, i)
                    return i + 1
        return 0

    # ------------------------------------------------------------- names

    def _names(self) -> None:
        toks = self.toks
        names: list[int] = []
        for i in range(len(toks)):
            if not self.taken[i] and self._is_name(i):
                names.append(i)
        # Lists: "Jean and Peter", "Mo, Priya and Sue", "Elin a Gethin".
        found = set(names)
        changed = True
        while changed:
            changed = False
            for i in sorted(found):
                for j in self._listed_with(i):
                    if j not in found and not self.taken[j] and self._could_be_name(j):
                        found.add(j)
                        changed = True
        for i in sorted(found):
            last = i
            if not self.title_case:
                nxt = i + 1
                # A surname straight after: "Karen Smith".
                if (
                    nxt < len(toks)
                    and nxt not in found
                    and toks[nxt].cap
                    and not self.taken[nxt]
                    and _adjacent(self.text, toks[i], toks[nxt])
                    and self._surname_like(toks[nxt])
                ):
                    last = nxt
            self._take("NAME", i, last)

    def _cued(self, i: int) -> bool:
        prev = self._prev(i)
        if prev is None:
            return False
        if prev.low in _NAME_VERBS or prev.low in _RELATIONS:
            return True
        before = self._prev(i, 2)
        return prev.low == "i" and before is not None and before.low.startswith(_BEFORE_WELSH_I)

    def _is_name(self, i: int) -> bool:
        tok = self.toks[i]
        low = tok.low
        plain = low in self.lex.names
        word = low in self.lex.name_words
        prev = self._prev(i)
        if not (plain or word):
            # A surname typed in lower case after a title: "mrs patel".
            return (
                prev is not None
                and prev.low in _LOWER_TITLES
                and not tok.cap
                and len(low) >= 3
                and not self.is_stopword(tok.text)
            )
        if low in _KINDS or low in _CALENDAR:
            return False
        if self.is_stopword(tok.text) and low not in _NAMES_DESPITE_STOPWORDS:
            return False
        if len(tok.text) > 1 and tok.text.isupper():
            return False
        if prev is not None and (
            prev.low in _ONLY_PLACES_AFTER or (prev.low in _PLACE_CUES and low in _COUNTRIES)
        ):
            return False  # "born in Jamaica", "came over from India"
        cued = self._cued(i)
        welsh = low in self.lex.welsh
        if not tok.cap:
            return plain and cued and not welsh and len(low) >= 2
        if welsh or word:
            # "My Husband Will Not Accept Carers": in title case a family word
            # before is no evidence, only a verb people use with names.
            if cued and not (self.title_case and prev is not None and prev.low in _RELATIONS):
                return True
            if welsh:
                return False
            if not tok.initial and not self.title_case:
                return True
            return self._verb_follows(i)
        return len(low) >= 3 or cued

    def _verb_follows(self, i: int) -> bool:
        toks = self.toks
        if i + 1 >= len(toks) or not _adjacent(self.text, toks[i], toks[i + 1]):
            return toks[i].end != toks[i].full_end  # "Will's"
        nxt = toks[i + 1].low
        if nxt in _PERSON_VERBS:
            return True
        return nxt == "is" and i + 2 < len(toks) and toks[i + 2].low in _AFTER_IS

    def _could_be_name(self, j: int) -> bool:
        tok = self.toks[j]
        if self.is_stopword(tok.text) or tok.low in self.lex.welsh or tok.low in _KINDS:
            return False
        if tok.cap:
            return self.lex.is_name(tok.low)
        return tok.low in self.lex.names

    def _listed_with(self, i: int) -> Iterator[int]:
        """Words listed with word ``i``: either side of a comma, "&", "and",
        "or", or Welsh "a", "ac", "neu"."""
        toks = self.toks
        for step in (-1, 1):
            j = i + step
            if not 0 <= j < len(toks):
                continue
            a, b = (toks[j], toks[i]) if step < 0 else (toks[i], toks[j])
            if self.text[a.full_end : b.start] in _LIST_GAPS:
                yield j
            elif toks[j].low in _CONJUNCTIONS and 0 <= j + step < len(toks):
                k = j + step
                first, middle, last = (toks[k], toks[j], toks[i]) if step < 0 else (
                    toks[i], toks[j], toks[k]
                )
                if _adjacent(self.text, first, middle) and _adjacent(self.text, middle, last):
                    yield k
                elif self.text[first.full_end : middle.start] == ", " and _adjacent(
                    self.text, middle, last
                ):
                    yield k  # "Denise, and Julie"

    def _surname_like(self, tok: _Tok) -> bool:
        if self.is_stopword(tok.text) or tok.low in _KINDS or tok.low in self.lex.welsh:
            return False
        if tok.low in self.lex.places or tok.low in self.lex.name_words:
            return False
        return not (len(tok.text) > 1 and tok.text.isupper())
