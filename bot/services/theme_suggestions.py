"""Suggested themes: groups of similar written answers, offered to a reviewer, never applied.

The answers of one question (their redacted text, the only text WithUs keeps) are turned
into TF-IDF vectors (English and Welsh stop words left out, English plurals folded where
the singular is written too, redaction labels such as "[NAME]" ignored) and grouped with
k-means, the number of groups chosen by the silhouette score (scikit-learn, with a fixed
random state, so the same answers give the same groups).
Only answers close to their group's centre are offered: a loose group says nothing.

Each group is named by its most telling words and proposed as
- an existing theme, when the answers already tagged with that theme (in this question)
  read like the group, or the theme's name is one of the group's top words; or
- a new theme, named from the top words (the reviewer may rename it before accepting).

Answers already tagged with the proposed theme are left out, as are answers for which a
reviewer rejected a theme of that name. Nothing here writes anything: accepting and
rejecting are the dashboard's forms (`bot/dashboard/suggestions.py`).

This module needs nothing but the texts, the themes and the tags, so it is tested without a
database; the dashboard reads those and calls `suggest_themes`.
"""

from __future__ import annotations

import hashlib
import re
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Fewer written answers than this to a question (in the view): no suggestions. Groups of a
#: handful of answers are too easy to tie to a person, and too few to group well.
MIN_ANSWERS = 10
#: The fewest answers a suggestion names.
MIN_GROUP = 2
#: The most groups tried.
MAX_GROUPS = 12
#: An answer is offered with its group only if its vector is at least this close (cosine)
#: to the group's centre.
MIN_CLOSENESS = 0.3
#: An existing theme is proposed when its tagged answers' centre is at least this close
#: to the group's centre.
MIN_THEME_SIMILARITY = 0.3
#: Two groups whose centres are at least this close (cosine) are one group.
MERGE_SIMILARITY = 0.35
#: Above this many answers, vectors are first reduced (LSA, 100 dimensions) and the
#: silhouette score is computed on a sample, to keep the time in hand.
REDUCE_ABOVE = 300
#: The silhouette score of a grouping is computed on at most this many answers.
SILHOUETTE_SAMPLE = 2000
#: The most answers one suggestion lists (and one accept may tag).
MAX_LISTED = 100

_LABEL = re.compile(r"\[[A-Z_]+\]")
_PHRASE = re.compile(r"[.,;:!?()\n]+")
_WORD = re.compile(r"(?u)\b[^\W\d_][^\W\d_'’]+\b")
#: Words that say nothing about what an answer is about, in answers to survey questions.
_FILLER = frozenset((
    "really", "just", "like", "get", "got", "getting", "lot", "lots", "need", "needs",
    "needed", "want", "wanted", "would", "could", "should", "make", "makes", "made",
    "thing", "things", "time", "times", "bit", "way", "ever", "never", "always", "also",
    "even", "much", "many", "more", "less", "able", "one", "two", "know", "think", "feel",
    "feels", "felt", "good", "bad", "better", "best", "yes", "dont", "don", "can", "cant",
    "doesn", "isn", "didn", "won", "wouldn", "couldn", "im", "ive", "youre",
))
#: Welsh words as common as English stop words (surveys run in Welsh too).
_WELSH_STOP = frozenset((
    "yn", "yr", "ac", "ar", "am", "ei", "eu", "fy", "dy", "ein", "eich", "mae", "oes",
    "ddim", "dim", "wedi", "bod", "oedd", "yw", "ydy", "dydy", "gyda", "efo", "ond",
    "neu", "pan", "os", "na", "nid", "dw", "rwy", "rydw", "ni", "chi", "nhw", "hi", "fe",
    "fi", "mi", "mwy", "iawn", "hyd", "oes", "er", "mwyn", "cael", "gael", "gan", "wrth",
    "fel", "hefyd", "hwn", "hon", "hyn", "yma", "yna", "sy", "sydd", "roedd", "bydd",
))


@dataclass(frozen=True)
class Suggestion:
    """One group of similar answers and the theme proposed for it."""

    #: The proposed theme's name, folded (lower case, single spaces): what a rejection
    #: is remembered by.
    key: str
    #: The theme's name as shown (an existing theme's own name, or a new one).
    name: str
    #: The existing theme proposed, or None for a new theme called `name`.
    theme_id: int | None
    #: The group's most telling words, most telling first.
    terms: tuple[str, ...]
    #: The answers it would tag, closest to the group's centre first (at most MAX_LISTED).
    answer_ids: tuple[int, ...]
    #: How many more answers are like these than are listed.
    more: int = 0


@dataclass(frozen=True)
class Suggestions:
    suggestions: tuple[Suggestion, ...]
    #: Why there are none (or fewer than one might expect), in plain words; "" if nothing
    #: needs saying.
    reason: str = ""


@dataclass(frozen=True)
class Clustering:
    """Groups of answers from their text alone (cached: it is the slow part)."""

    #: Per group: (answer ids closest first, top terms, centre vector).
    groups: tuple[tuple[tuple[int, ...], tuple[str, ...], Any], ...]
    #: The fitted vectoriser's vectors per answer id (rows of `matrix`).
    rows: Mapping[int, int]
    matrix: Any


def fold(name: str) -> str:
    """A theme name as rejections remember it."""
    return " ".join(name.casefold().split())


def _words(text: str) -> list[list[str]]:
    """The words of each phrase of an answer, lower case, without redaction labels."""
    return [[w.replace("’", "'").split("'")[0] for w in _WORD.findall(phrase)]
            for phrase in _PHRASE.split(_LABEL.sub(" , ", text).lower())]


def _singular(word: str, seen: Collection[str]) -> str:
    """An English plural as its singular, when the singular is also written in these
    answers ("appointments" meets "appointment"); a word like the Welsh "lwfans" stays."""
    for plural, single in (("ies", "y"), ("es", ""), ("s", "")):
        stem = word[:-len(plural)] + single
        if word.endswith(plural) and len(word) > len(plural) + 2 and stem in seen:
            return stem
    return word


def _analyser(texts: Sequence[str]) -> Callable[[str], list[str]]:
    """The TF-IDF analyser for one set of answers: words and two-word terms, without stop
    words, plurals folded where the singular is used too."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    seen = {w for text in texts for phrase in _words(text) for w in phrase}

    def analyse(text: str) -> list[str]:
        found: list[str] = []
        pairs: list[str] = []
        # Two-word terms only within a phrase: "Money. Carer's Allowance" gives no
        # "money carer".
        for words in _words(text):
            kept = [_singular(w, seen) for w in words
                    if len(w) > 1 and w not in ENGLISH_STOP_WORDS and w not in _FILLER
                    and w not in _WELSH_STOP]
            found += kept
            pairs += [f"{a} {b}" for a, b in zip(kept, kept[1:], strict=False)]
        return found + pairs

    return analyse


_cache: OrderedDict[str, Clustering | None] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 8


def cluster_answers(answers: Sequence[tuple[int, str]], *,
                    random_state: int = 0) -> Clustering | None:
    """Group the answers by what they say; None when no grouping stands out.

    The result depends only on the answers (ids and texts), so it is kept for the last few
    sets of answers seen: accepting one suggestion and showing the rest does not group
    everything again. The key is a digest; the texts themselves are not kept.
    """
    digest = hashlib.sha256()
    for answer_id, text in answers:
        digest.update(f"{answer_id}\0{text}\0".encode())
    digest.update(str(random_state).encode())
    key = digest.hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    # One thread: on a busy machine k-means' OpenMP threads wait on each other (nine times
    # slower on two shared cores), and a web worker should not take every core anyway.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # Fewer distinct answers than groups tried: that grouping just scores badly.
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        found = _cluster(answers, random_state)
    with _cache_lock:
        _cache[key] = found
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _cluster(answers: Sequence[tuple[int, str]], random_state: int) -> Clustering | None:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import normalize

    if len(answers) < MIN_ANSWERS:
        return None
    texts = [text for _id, text in answers]
    vectoriser = TfidfVectorizer(analyzer=_analyser(texts), min_df=2, sublinear_tf=True,
                                 dtype=np.float32)
    try:
        tfidf = vectoriser.fit_transform(texts)
    except ValueError:  # no word appears in two answers
        return None
    terms = vectoriser.get_feature_names_out()
    has_words = np.asarray(tfidf.getnnz(axis=1) > 0)
    keep = np.flatnonzero(has_words)
    if len(keep) < MIN_ANSWERS:
        return None
    ids = [answers[int(i)][0] for i in keep]
    tfidf = tfidf[keep]
    if tfidf.shape[0] > REDUCE_ABOVE and tfidf.shape[1] > 100:
        svd = TruncatedSVD(n_components=100, random_state=random_state)
        points = normalize(svd.fit_transform(tfidf))
    else:
        points = tfidf.toarray()  # small: dense is far quicker for k-means
    n = points.shape[0]
    sample = min(n, SILHOUETTE_SAMPLE)
    best: tuple[float, Any] | None = None
    for k in range(2, min(MAX_GROUPS, n // MIN_GROUP - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=random_state).fit_predict(points)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(points, labels, metric="cosine", sample_size=sample,
                                       random_state=random_state))
        if best is None or score > best[0] + 1e-9:
            best = (score, labels)
    if best is None:
        return None
    labels = _merge_close(tfidf, best[1])
    groups = []
    for group in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == group)
        centre = np.asarray(tfidf[members].mean(axis=0)).ravel()
        length = float(np.linalg.norm(centre))
        if length == 0:
            continue
        centre = centre / length
        closeness = np.asarray(tfidf[members] @ centre).ravel()
        close = [(float(c), int(m)) for c, m in zip(closeness, members, strict=True)
                 if c >= MIN_CLOSENESS]
        if len(close) < MIN_GROUP:
            continue
        close.sort(key=lambda cm: (-cm[0], ids[cm[1]]))
        top = [terms[t] for t in np.argsort(-centre, kind="stable")[:12] if centre[t] > 0]
        texts = [answers[int(keep[m])][1] for _c, m in close[:50]]
        shown = tuple(_as_written(term, texts) for term in _tidy_terms(top))
        groups.append((tuple(ids[m] for _c, m in close), shown, centre))
    # Largest first, then by the first answer, so the order is stable.
    groups.sort(key=lambda g: (-len(g[0]), g[0][0]))
    if not groups:
        return None
    return Clustering(tuple(groups), {answer_id: row for row, answer_id in enumerate(ids)},
                      tfidf)


def _centre(vectors: Any) -> Any:
    import numpy as np

    centre = np.asarray(vectors.mean(axis=0)).ravel()
    length = float(np.linalg.norm(centre))
    return centre / length if length else centre


def _merge_close(tfidf: Any, labels: Any) -> Any:
    """Join groups whose centres are close (the silhouette score tends to split a theme
    into near twins, say "respite, break" and "respite care, break")."""
    import numpy as np

    labels = labels.copy()
    while True:
        groups = sorted(set(labels.tolist()))
        centres = {g: _centre(tfidf[np.flatnonzero(labels == g)]) for g in groups}
        best: tuple[float, int, int] | None = None
        for i, a in enumerate(groups):
            for b in groups[i + 1:]:
                similarity = float(centres[a] @ centres[b])
                if similarity >= MERGE_SIMILARITY and (best is None or similarity > best[0]):
                    best = (similarity, a, b)
        if best is None:
            return labels
        labels[labels == best[2]] = best[1]


def _as_written(term: str, texts: Sequence[str]) -> str:
    """A term as people wrote it when they mostly wrote it in capitals ("GP")."""
    words = []
    for word in term.split():
        forms = Counter(m.group(0) for text in texts for m in re.finditer(
            rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE))
        common = forms.most_common(1)
        words.append(word.upper() if common and common[0][0].isupper()
                     and len(common[0][0]) > 1 else word)
    return " ".join(words)


def _tidy_terms(top: list[str]) -> list[str]:
    """Top terms, leaving out any that repeats a word of one kept before it."""
    kept: list[str] = []
    for term in top:
        if not any(set(term.split()) & set(other.split()) for other in kept):
            kept.append(term)
    return kept[:4]


def suggest_themes(answers: Sequence[tuple[int, str]], themes: Mapping[int, str],
                   tags: Mapping[int, Collection[int]],
                   rejected: Mapping[int, Collection[str]], *,
                   random_state: int = 0) -> Suggestions:
    """Suggested themes for one question's answers.

    `answers` are (answer id, redacted text); `themes` the survey's themes by id; `tags`
    the theme ids of each answer; `rejected` the folded theme names a reviewer rejected
    for each answer.
    """
    if len(answers) < MIN_ANSWERS:
        return Suggestions((), f"Suggestions need at least {MIN_ANSWERS} written answers "
                               f"to this question; there are {len(answers)}.")
    clustering = cluster_answers(answers, random_state=random_state)
    if clustering is None:
        return Suggestions((), "These answers have too few words in common to group.")
    by_name = {fold(name): theme_id for theme_id, name in themes.items()}
    rows_of: dict[int, list[int]] = {}
    for answer_id, theme_ids in tags.items():
        if answer_id in clustering.rows:
            for known in theme_ids:
                if known in themes:
                    rows_of.setdefault(known, []).append(clustering.rows[answer_id])
    theme_centres = {known: _centre(clustering.matrix[sorted(rows)])
                     for known, rows in rows_of.items()}
    found: list[Suggestion] = []
    left_out = 0
    for members, terms, centre in clustering.groups:
        theme_id = by_name.get(fold(_new_name(terms)))  # accepted before under that name
        if theme_id is None:
            theme_id = _matching_theme(terms, centre, by_name, theme_centres)
        name = themes[theme_id] if theme_id is not None else _new_name(terms)
        key = fold(name)
        offered = [a for a in members
                   if (theme_id is None or theme_id not in tags.get(a, ()))
                   and key not in rejected.get(a, ())]
        if len(offered) < MIN_GROUP:
            left_out += 1
            continue
        found.append(Suggestion(key, name, theme_id, terms, tuple(offered[:MAX_LISTED]),
                                max(0, len(offered) - MAX_LISTED)))
    # Two groups may propose one existing theme: keep them apart, they are different groups.
    reason = ""
    if not found:
        reason = ("Every group of similar answers is already tagged with its theme, or its "
                  "suggestion was rejected." if left_out else
                  "No group of similar answers stands out.")
    return Suggestions(tuple(found), reason)


def _matching_theme(terms: Sequence[str], centre: Any, by_name: Mapping[str, int],
                    theme_centres: Mapping[int, Any]) -> int | None:
    for term in terms:
        for form in (term, term + "s"):
            if form in by_name:
                return by_name[form]
    best: tuple[float, int] | None = None
    for theme_id, theme_centre in theme_centres.items():
        similarity = float(centre @ theme_centre)
        if similarity >= MIN_THEME_SIMILARITY and (best is None or similarity > best[0]):
            best = (similarity, theme_id)
    return best[1] if best else None


def _new_name(terms: Sequence[str]) -> str:
    """A new theme's name from the group's top words: "Respite, break"."""
    words = list(terms[:2])
    name = ", ".join(words)[:80]
    return name[:1].upper() + name[1:] if name else "Similar answers"
