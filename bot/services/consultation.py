"""Consultations in the application: the service's part, results, the draft, the exports.

* The service's part: before a message reaches the engine, `statement_context` looks up the
  statements the person may vote on next; afterwards `record` stores their votes and their
  own statements (redacted, pending a reviewer, near-duplicates flagged).
* Results: per-statement counts, statements with broad agreement or division, and opinion
  groups found from the vote matrix the way Pol.is does (PCA, then k-means).
* The draft response, in Markdown or as a Word document organisers can edit, and CSV
  exports in the shapes Pol.is users know.

Every number a reader sees goes through `surveys.suppression`: groups are small and local,
and "2 people disagreed" can point at someone. scikit-learn, numpy, python-docx and
rapidfuzz are imported where they are used, so handling a message never loads them.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.orm import Session

from bot.services.names import channel_name
from storage.repositories.consultations import (
    ConsultationRepository,
    Participation,
    Tally,
    View,
)
from storage.spreadsheet import csv_text
from surveys.consultation import (
    Candidate,
    Consultation,
    StatementProposed,
    VoteCast,
    build_context,
)
from surveys.conversation import ConsultationRecord
from surveys.redaction import Redactor
from surveys.suppression import Breakdown, Cell, Suppressor

if TYPE_CHECKING:
    import numpy as np

#: Two statements whose normalised texts score this much (rapidfuzz token_set_ratio,
#: 0-100) are flagged to moderators as possible repeats.
DUPLICATE_SCORE = 85
#: At least this share agreeing (or disagreeing) is "broad agreement" ("broad disagreement").
CONSENSUS_SHARE = 0.7
#: Divided: at least this share on each side.
DIVIDED_SHARE = 0.3
#: Opinion groups need this many people who voted on at least MIN_VOTES_TO_GROUP statements.
MIN_PARTICIPANTS_TO_GROUP = 20
MIN_VOTES_TO_GROUP = 3
MAX_GROUPS = 4
#: A statement sets a group apart when the group's share differs from everyone else's by
#: at least this much, and significantly (one-sided z > 1.645, 95%).
MIN_DIFFERENCE = 0.2
Z_95 = 1.645
VOTE_VALUES = {"agree": 1, "disagree": -1, "pass": 0}


# --- The service's part ----------------------------------------------------------------------


def statement_context(session: Session, consultation: Consultation,
                      state: Mapping[str, Any] | None, participant: str) -> dict[str, Any]:
    """The statements this person may be offered next, for `surveys.engine.converse`."""
    rows = ConsultationRepository(session).candidates(consultation.id, participant)
    candidates = [Candidate(r.id, r.question_id, r.text, r.author_id) for r in rows]
    return build_context(consultation, state, candidates, {r.id: r.votes for r in rows},
                         participant)


def record(session: Session, redactor: Redactor, participant: str,
           done: ConsultationRecord, now: datetime) -> None:
    """Store a vote, or a proposed statement: redacted first, then held for a reviewer."""
    repo = ConsultationRepository(session)
    if isinstance(done, VoteCast):
        repo.vote(done.consultation_id, done.statement_id, participant, done.vote, now)
    elif isinstance(done, StatementProposed):
        text = redactor.redact(done.text).strip()
        repeats = near_duplicate(text, repo.texts(done.consultation_id, done.question_id))
        repo.propose(done.consultation_id, done.question_id, participant, text, now, repeats)


def store_seeds(session: Session, consultation: Consultation, now: datetime) -> int:
    """Store the file's seed statements (approved); how many were new. Run on every load."""
    return ConsultationRepository(session).upsert_seeds(
        consultation.id, consultation.seed_statements(), now
    )


_PUNCTUATION = re.compile(r"[^\w\s]")


def normalise_statement(text: str) -> str:
    """Lowercase words only: "Pay travel time!" and "pay travel-time" compare equal."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def near_duplicate(text: str, existing: Iterable[tuple[int, str]],
                   threshold: int = DUPLICATE_SCORE) -> int | None:
    """The id of the existing statement `text` most closely repeats, if any is that close.

    token_set_ratio ignores word order and extra words, so "Sick pay should start from
    day one" is flagged against "Sick pay should start from the first day off sick". It
    also flags a statement that contains a shorter one whole: only a flag, because a
    reviewer decides whether it adds anything worth voting on.
    """
    from rapidfuzz import fuzz, process

    choices = {sid: normalise_statement(t) for sid, t in existing}
    if not choices:
        return None
    found = process.extractOne(normalise_statement(text), choices, scorer=fuzz.token_set_ratio,
                               score_cutoff=threshold)
    return None if found is None else int(found[2])


# --- Results ---------------------------------------------------------------------------------


def bounds(breakdown: Breakdown[str], key: str, zeros_hidden: bool = False
           ) -> tuple[int, int] | None:
    """The range any reader can work out for one cell from what is shown: (n, n) when the
    cell is shown, None when nothing useful can be.

    A hidden cell is not a blank: knowing the rules (a "fewer than k" cell holds at most
    k-1; a "hidden" one, when only some cells are hidden, at least k) and the total,
    "agree" next to two "fewer than 10" cells out of 70 votes is at least 52. Saying so
    reveals nothing new, and lets the draft report the broad agreement that suppression
    would otherwise hide. When every cell reads "hidden", nothing can be worked out.
    """
    cell, total = breakdown[key], breakdown.total.count
    if cell.count is not None:
        return cell.count, cell.count
    cells = breakdown.cells.values()
    if total is None or all(c.hidden and c.reason != "small" for c in cells):
        return None
    k = cell.k
    rest = total - sum(c.count for c in cells if c.count is not None)
    others = [c for name, c in breakdown.cells.items() if name != key and c.count is None]
    # Small cells hold 1..k-1 (0..k-1 where zeros are hidden too), other hidden ones >= k.
    small_low = 0 if zeros_hidden else 1
    others_low = sum(small_low if c.reason == "small" else k for c in others)
    unbounded = any(c.reason != "small" for c in others)
    own_low, own_high = (small_low, k - 1) if cell.reason == "small" else (k, rest)
    high = min(own_high, rest - others_low)
    low = own_low if unbounded else max(own_low, rest - sum(k - 1 for _c in others))
    return low, high


@dataclass(frozen=True)
class StatementResult:
    """One statement's votes, suppressed: what may be shown of them."""

    tally: Tally
    counts: Breakdown[str]

    @property
    def id(self) -> int:
        return self.tally.id

    @property
    def text(self) -> str:
        return self.tally.text

    def share(self, vote: str) -> tuple[float, float] | None:
        """The share who voted `vote`, as (lowest, highest) a reader can tell."""
        return share_of(self.counts, vote)

    def low(self, vote: str) -> float:
        """The share who voted `vote`, at least: what findings rest on."""
        share = self.share(vote)
        return 0.0 if share is None else share[0]

    def percent(self, vote: str) -> str:
        """E.g. "85%", or "74% to 97%" where small numbers are hidden, or "" if unknown."""
        return share_text(self.share(vote))

    def describe(self) -> str:
        """E.g. "agree 34, disagree fewer than 10, not sure 5; 42 votes"."""
        c = self.counts
        return (f"agree {c['agree']}, disagree {c['disagree']}, not sure {c['pass']}; "
                f"{c.total} votes")


def share_of(breakdown: Breakdown[str], key: str) -> tuple[float, float] | None:
    """A cell's share of the total, as (lowest, highest) a reader can tell; None when the
    total is hidden (or nobody voted)."""
    found, total = bounds(breakdown, key), breakdown.total.count
    if found is None or not total:
        return None
    return found[0] / total, found[1] / total


def share_text(share: tuple[float, float] | None) -> str:
    if share is None:
        return ""
    low, high = math.floor(share[0] * 100), math.ceil(share[1] * 100)
    exact = round(share[0] * 100)
    return f"{exact}%" if share[0] == share[1] else f"{low}% to {high}%"


def statement_results(tallies: Iterable[Tally], suppressor: Suppressor) -> list[StatementResult]:
    return [StatementResult(t, suppressor.partition({"agree": t.agree, "disagree": t.disagree,
                                                     "pass": t.passes}))
            for t in tallies]


def consensus(results: Iterable[StatementResult], vote: Literal["agree", "disagree"] = "agree",
              share: float = CONSENSUS_SHARE) -> list[StatementResult]:
    """Statements where at least `share` of those who voted chose `vote`, highest first.

    Judged on the share a reader can be sure of from the suppressed figures, so a finding
    never rests on a number nobody may see.
    """
    found = [r for r in results if r.low(vote) >= share]
    return sorted(found, key=lambda r: (-r.low(vote), r.id))


def divided(results: Iterable[StatementResult],
            share: float = DIVIDED_SHARE) -> list[StatementResult]:
    """Statements with at least `share` agreeing and `share` disagreeing, most even first."""
    found = [r for r in results if r.low("agree") >= share and r.low("disagree") >= share]
    return sorted(found, key=lambda r: (abs(r.low("agree") - r.low("disagree")), r.id))


# --- Opinion groups --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clustering:
    """Participants split into groups by how they voted."""

    participants: tuple[str, ...]
    statements: tuple[int, ...]
    labels: tuple[int, ...]  # per participant, 0 = largest group
    silhouette: float
    explained: tuple[float, ...]  # share of variance each principal component explains


def vote_matrix(votes: Iterable[tuple[str, int, str]], min_votes: int = MIN_VOTES_TO_GROUP
                ) -> tuple[list[str], list[int], np.ndarray]:
    """Participants (with at least `min_votes` votes) × statements: 1 agree, -1 disagree,
    0 not sure, NaN not seen."""
    import numpy as np

    by_person: dict[str, dict[int, int]] = defaultdict(dict)
    for participant, statement_id, vote in votes:
        by_person[participant][statement_id] = VOTE_VALUES[vote]
    people = sorted(p for p, seen in by_person.items() if len(seen) >= min_votes)
    statements = sorted({sid for p in people for sid in by_person[p]})
    column = {sid: j for j, sid in enumerate(statements)}
    matrix = np.full((len(people), len(statements)), np.nan)
    for i, person in enumerate(people):
        for sid, value in by_person[person].items():
            matrix[i, column[sid]] = value
    return people, statements, matrix


def cluster_votes(votes: Iterable[tuple[str, int, str]], *, min_size: int,
                  min_participants: int = MIN_PARTICIPANTS_TO_GROUP,
                  min_votes: int = MIN_VOTES_TO_GROUP, max_groups: int = MAX_GROUPS,
                  random_state: int = 0) -> Clustering | None:
    """Find opinion groups as Pol.is does: PCA of the vote matrix to two dimensions, then
    k-means, with the number of groups (2 to `max_groups`) that gives the best silhouette
    score among those where every group has at least `min_size` people.

    Unseen statements count as the average vote on them, so they pull nobody either way.
    None when too few people voted, or no grouping keeps every group big enough to show.
    """
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    people, statements, matrix = vote_matrix(votes, min_votes)
    if len(people) < max(min_participants, 2 * min_size) or len(statements) < 2:
        return None
    means = np.nanmean(matrix, axis=0)  # every column has a vote: people saw it
    filled = np.where(np.isnan(matrix), means[None, :], matrix)
    pca = PCA(n_components=2, random_state=random_state)
    points = pca.fit_transform(filled)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, max_groups + 1):
        if k >= len(people):
            break
        labels = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(points)
        sizes = np.bincount(labels, minlength=k)
        if sizes.min() < min_size or len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(points, labels))
        if best is None or score > best[0] + 1e-9:
            best = (score, labels)
    if best is None:
        return None
    score, labels = best
    # Name groups by size, largest first, so "group A" is stable from run to run.
    order = sorted(set(labels.tolist()), key=lambda g: (-int((labels == g).sum()), g))
    rename = {old: new for new, old in enumerate(order)}
    return Clustering(tuple(people), tuple(statements),
                      tuple(rename[int(g)] for g in labels), score,
                      tuple(float(v) for v in pca.explained_variance_ratio_))


@dataclass(frozen=True)
class Distinction:
    """A statement on which a group voted differently from everyone else."""

    statement_id: int
    vote: Literal["agree", "disagree"]
    group: Breakdown[str]
    others: Breakdown[str]
    difference: float


@dataclass(frozen=True)
class OpinionGroup:
    label: str
    members: tuple[str, ...]
    size: Cell
    distinctions: tuple[Distinction, ...]


def _z(a_in: int, n_in: int, a_out: int, n_out: int) -> tuple[float, float]:
    """Smoothed difference in proportions, and its one-sided z score."""
    p_in, p_out = (a_in + 1) / (n_in + 2), (a_out + 1) / (n_out + 2)
    pooled = (a_in + a_out + 1) / (n_in + n_out + 2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / max(n_in, 1) + 1 / max(n_out, 1)))
    return p_in - p_out, (p_in - p_out) / spread if spread else 0.0


def opinion_groups(votes: Sequence[tuple[str, int, str]], clustering: Clustering,
                   suppressor: Suppressor, per_group: int = 3) -> list[OpinionGroup]:
    """Each group, with the statements that set it apart from everyone else."""
    group_of = dict(zip(clustering.participants, clustering.labels, strict=True))
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(
        lambda: {"agree": 0, "disagree": 0, "pass": 0})
    totals: dict[int, dict[str, int]] = defaultdict(lambda: {"agree": 0, "disagree": 0,
                                                             "pass": 0})
    for participant, statement_id, vote in votes:
        totals[statement_id][vote] += 1
        if participant in group_of:
            counts[(group_of[participant], statement_id)][vote] += 1
    groups: list[OpinionGroup] = []
    for g in sorted(set(clustering.labels)):
        members = tuple(p for p, label in group_of.items() if label == g)
        found: list[Distinction] = []
        for statement_id in sorted(totals):
            inside = counts[(g, statement_id)]
            n_in = sum(inside.values())
            outside = {v: totals[statement_id][v] - inside[v] for v in inside}
            n_out = sum(outside.values())
            if n_in < suppressor.k or n_out == 0:
                continue
            best: tuple[float, float, Literal["agree", "disagree"]] | None = None
            for vote in ("agree", "disagree"):
                difference, z = _z(inside[vote], n_in, outside[vote], n_out)
                if difference >= MIN_DIFFERENCE and z > Z_95 and (
                        best is None or difference > best[0]):
                    best = (difference, z, vote)  # type: ignore[assignment]
            if best is None:
                continue
            group_cells, other_cells = suppressor.partition(inside), suppressor.partition(outside)
            in_share, out_share = share_of(group_cells, best[2]), share_of(other_cells, best[2])
            if in_share is None or out_share is None or (
                    in_share[0] - out_share[1] < MIN_DIFFERENCE):
                continue  # the difference would not show in the figures that may be shown
            found.append(Distinction(statement_id, best[2], group_cells, other_cells, best[0]))
        found.sort(key=lambda d: (-d.difference, d.statement_id))
        groups.append(OpinionGroup(chr(ord("A") + g), members, suppressor.count(len(members)),
                                   tuple(found[:per_group])))
    return groups


# --- Everything together ---------------------------------------------------------------------


@dataclass
class Results:
    """What the dashboard and the draft show about one consultation, suppressed."""

    consultation: Consultation
    suppressor: Suppressor
    participation: Participation
    statements: list[StatementResult]
    clustering: Clustering | None
    groups: list[OpinionGroup]
    themes: dict[tuple[str, str], int]
    views: list[View]
    by_id: dict[int, StatementResult] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {r.id: r for r in self.statements}

    @property
    def k(self) -> int:
        return self.suppressor.k

    def for_question(self, question_id: str) -> list[StatementResult]:
        return [r for r in self.statements if r.tally.question_id == question_id]

    def themes_for(self, question_id: str) -> list[tuple[str, Cell]]:
        found = [(name, n) for (qid, name), n in self.themes.items() if qid == question_id]
        return [(name, self.suppressor.count(n))
                for name, n in sorted(found, key=lambda item: (-item[1], item[0]))]

    def answered(self, question_id: str) -> int:
        return sum(1 for v in self.views if v.question_id == question_id)

    def quotes(self, question_id: str) -> list[str]:
        """Chosen quotes from people who agreed to be quoted, where enough people answered."""
        if not self.suppressor.text_visible(self.answered(question_id)):
            return []
        return [v.text for v in self.views
                if v.question_id == question_id and v.quote_ok and v.quote_chosen and v.text]


def compute_results(session: Session, consultation: Consultation, k: int,
                    random_state: int = 0) -> Results:
    """Everything about a consultation that may be shown, with small numbers suppressed."""
    repo = ConsultationRepository(session)
    suppressor = Suppressor(k)
    statements = statement_results(repo.tallies(consultation.id), suppressor)
    approved = {r.id for r in statements}
    votes = [(p, sid, v) for p, sid, v, _at in repo.votes(consultation.id) if sid in approved]
    clustering = cluster_votes(votes, min_size=k, random_state=random_state)
    groups = opinion_groups(votes, clustering, suppressor) if clustering else []
    return Results(consultation, suppressor, repo.participation(consultation.id), statements,
                   clustering, groups, repo.theme_counts(consultation.id),
                   repo.views(consultation.id))


# --- The draft response ----------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    text: str
    lead: str = ""  # a few words in bold before the text
    italic: bool = False


@dataclass(frozen=True)
class Bullets:
    items: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Quote:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | Bullets | Quote | Table


def _date(moment: datetime | None) -> str:
    return moment.strftime("%-d %B %Y") if moment else "not yet"


def _finding(result: StatementResult, vote: str, verb: str) -> Paragraph:
    return Paragraph(f"{result.percent(vote)} {verb} ({result.describe()}).",
                     lead=f'"{result.text}"')


def draft(results: Results, now: datetime) -> list[Block]:
    """The draft response as blocks, for `to_markdown` or `to_docx`."""
    c, s, p = results.consultation, results.suppressor, results.participation
    blocks: list[Block] = [
        Heading(f"Draft response: {c.source_name.get()}", 0),
        Paragraph(f"Prepared with WithUs on {_date(now)} from what people told us about "
                  f'"{c.title.get()}". This is a draft to edit: check every figure and quote '
                  "before you submit it.", italic=True),
        Paragraph(f"Official consultation: {c.source_name.get()}, {c.source_url}. "
                  f"It closes on {_date(c.closes_at)}."),
        Paragraph(f"{s.partition(p.by_channel).total} people took part by text message or "
                  "chat app. They told us what they think in their own words, and cast "
                  f"{s.count(p.votes)} votes on short statements written by the organisers "
                  "and by each other. This response is built from what they said."),
    ]
    blocks += _method(results)
    for n, question in enumerate(c.questions, start=1):
        blocks += _question_section(results, n, question.id, question.text.get())
    blocks += _groups_section(results)
    blocks += _appendix(results)
    return blocks


def _method(results: Results) -> list[Block]:
    c, s, k, p = results.consultation, results.suppressor, results.k, results.participation
    # One partition per set of figures that add up, so no small number can be worked out
    # by subtraction: people by channel, and the same people by whether they finished.
    people = s.partition(p.by_channel)
    finished = s.partition({"completed": p.completed,
                            "not": max(sum(p.by_channel.values()) - p.completed, 0)})
    channel_text = "; ".join(f"{channel_name(name)}: {people[name]}"
                             for name in sorted(p.by_channel)) or "none yet"
    ended = (f" {finished['completed']} of them answered every question."
             if finished.total.count is not None and not finished["completed"].hidden else "")
    proposed = sum(p.statements.values())
    clustering = results.clustering
    if clustering is None:
        groups_text = (f"Opinion groups are found once at least {MIN_PARTICIPANTS_TO_GROUP} "
                       f"people have each voted on {MIN_VOTES_TO_GROUP} or more statements and "
                       f"every group would have at least {k} people; that is not the case yet.")
    else:
        groups_text = (
            "Found from the votes the way Pol.is does it. Each person's votes (agree 1, "
            "disagree -1, not sure 0; a statement they did not see counts as the average "
            "vote on it) were reduced to two dimensions with principal component analysis, "
            "then grouped with k-means (scikit-learn). The number of groups, from 2 to "
            f"{MAX_GROUPS}, is the one with the best silhouette score "
            f"({clustering.silhouette:.2f}) among those where every group has at least {k} "
            f"people. {s.count(len(clustering.participants))} people who voted on at least "
            f"{MIN_VOTES_TO_GROUP} statements were included."
        )
    items = (
        Paragraph(f"People took part between {_date(p.first_at)} and {_date(p.last_at)}. "
                  f"The official consultation closes on {_date(c.closes_at)}.", lead="Dates."),
        Paragraph(f"{channel_text}.", lead="Channels."),
        Paragraph(f"{people.total} people agreed to take part.{ended} They cast "
                  f"{s.count(p.votes)} votes.", lead="Numbers taking part."),
        Paragraph(f"A plain-English summary of the consultation in {len(c.summary)} short "
                  f"messages, then {len(c.questions)} questions. For each: their view in their "
                  f"own words; up to {c.votes_per_question} statements from others to agree "
                  "with, disagree with or be unsure about, one at a time (more if they asked); "
                  "and the chance to add a statement of their own.",
                  lead="What people were asked."),
        Paragraph(
            f"The organisers wrote {p.seeds} starting statements, and people taking part "
            f"proposed {proposed} more. Each had names, phone numbers, addresses and similar "
            "details removed automatically, then waited for a reviewer from the group. "
            f"Reviewers approved {p.statements['approved']} (editing {p.edited} of them), "
            f"rejected {p.statements['rejected']}, and {p.statements['pending']} still wait. "
            f"{p.duplicates_flagged} were flagged to reviewers as close repeats of another "
            "statement. Only approved statements were shown, never to the person who wrote "
            "them, and nobody saw the same statement twice. Statements with the fewest votes "
            "were shown first, so that every statement was seen. (These are counts of "
            "statements, not of people, so they are not suppressed.)",
            lead="How statements were moderated."),
        Paragraph(
            f'"Broad agreement" means at least {round(CONSENSUS_SHARE * 100)}% of those who '
            f'voted on a statement agreed ("broad disagreement": disagreed); "divided" means '
            f"at least {round(DIVIDED_SHARE * 100)}% agreed and at least "
            f"{round(DIVIDED_SHARE * 100)}% disagreed. To protect people in small groups, a "
            f'number below {k} reads "fewer than {k}", and some others are hidden so that a '
            "small number cannot be worked out from the rest. Where that hides a share, it "
            'is given as the range the other figures allow, such as "74% to 97%", and a '
            "statement counts as broad agreement only if the lowest figure in its range "
            "does. Quotes come only from people who agreed to be quoted, chosen by a "
            f"reviewer, and only where at least {k} people answered the question.",
            lead="Reading the figures."),
        Paragraph(groups_text, lead="Opinion groups."),
    )
    return [Heading("How we gathered these views", 1), Bullets(items)]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _question_section(results: Results, n: int, question_id: str, text: str) -> list[Block]:
    statements = results.for_question(question_id)
    blocks: list[Block] = [Heading(f"{n}. {text}", 1)]
    themes = results.themes_for(question_id)
    blocks.append(Heading("Themes in what people said", 2))
    if themes:
        blocks.append(Bullets(tuple(Paragraph(f"{cell} views", lead=f"{name}:")
                                    for name, cell in themes)))
    else:
        blocks.append(Paragraph("Reviewers have not tagged themes for this question yet."))
    sections = (
        ("Where most people agreed", consensus(statements, "agree"), "agree", "agreed"),
        ("Where most people disagreed", consensus(statements, "disagree"), "disagree",
         "disagreed"),
    )
    for title, found, vote, verb in sections:
        blocks.append(Heading(title, 2))
        blocks.append(Bullets(tuple(_finding(r, vote, verb) for r in found)) if found
                      else Paragraph(f"No statement had broad {vote}ment."))
    split = divided(statements)
    blocks.append(Heading("Where views were divided", 2))
    blocks.append(Bullets(tuple(
        Paragraph(f"{r.percent('agree')} agreed and {r.percent('disagree')} disagreed "
                  f"({r.describe()}).", lead=f'"{r.text}"') for r in split
    )) if split else Paragraph("No statement divided people this way."))
    blocks.append(Heading("In their own words", 2))
    quotes = results.quotes(question_id)
    if quotes:
        blocks += [Quote(q) for q in quotes]
    elif not results.suppressor.text_visible(results.answered(question_id)):
        blocks.append(Paragraph(f"Fewer than {results.k} people answered this question in "
                                "their own words, so no quotes are shown."))
    else:
        blocks.append(Paragraph("No quotes have been chosen for this question yet."))
    return blocks


def _groups_section(results: Results) -> list[Block]:
    if not results.groups:
        return []
    blocks: list[Block] = [
        Heading("Opinion groups", 1),
        Paragraph(f"The votes show {len(results.groups)} groups of people who tended to vote "
                  "alike. These are patterns in the votes, not categories people chose. What "
                  "sets each group apart from everyone else:"),
    ]
    for group in results.groups:
        blocks.append(Heading(f"Group {group.label} ({group.size} people)", 2))
        if not group.distinctions:
            blocks.append(Paragraph("No statement sets this group clearly apart."))
            continue
        items = []
        for d in group.distinctions:
            statement = results.by_id.get(d.statement_id)
            words = statement.text if statement else f"statement {d.statement_id}"
            verb = "agreed" if d.vote == "agree" else "disagreed"
            items.append(Paragraph(
                f"{share_text(share_of(d.group, d.vote))} of group {group.label} {verb}, "
                f"against {share_text(share_of(d.others, d.vote)) or 'a hidden share'} of "
                "everyone else.",
                lead=f'"{words}"'))
        blocks.append(Bullets(tuple(items)))
    return blocks


def _appendix(results: Results) -> list[Block]:
    blocks: list[Block] = [Heading("Appendix: every statement and its votes", 1)]
    for n, question in enumerate(results.consultation.questions, start=1):
        rows = tuple(
            (r.text + (" (organisers)" if r.tally.seed else ""), str(r.counts["agree"]),
             str(r.counts["disagree"]), str(r.counts["pass"]), str(r.counts.total),
             r.percent("agree") or "-")
            for r in results.for_question(question.id)
        )
        blocks.append(Heading(f"{n}. {_capital((question.topic or question.text).get())}", 2))
        blocks.append(Table(("Statement", "Agree", "Disagree", "Not sure", "Votes",
                             "Agreeing"), rows))
    return blocks


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md(text: str) -> str:
    """Escape what people wrote so Markdown shows it as written, never as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_paragraph(p: Paragraph) -> str:
    text = _md(p.text)
    if p.italic:
        text = f"*{text}*"
    return f"**{_md(p.lead)}** {text}" if p.lead else text


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * (block.level + 1) + " " + _md(block.text))
        elif isinstance(block, Paragraph):
            out.append(_md_paragraph(block))
        elif isinstance(block, Bullets):
            out.append("\n".join("- " + _md_paragraph(item) for item in block.items))
        elif isinstance(block, Quote):
            out.append("> " + _md(block.text))
        else:
            lines = ["| " + " | ".join(_md(h) for h in block.header) + " |",
                     "|" + "|".join("---" for _ in block.header) + "|"]
            lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def to_docx(blocks: Sequence[Block]) -> bytes:
    """A Word document (python-docx), with real headings, lists and tables to edit."""
    from docx import Document

    document = Document()
    title = next((b.text for b in blocks if isinstance(b, Heading) and b.level == 0), "")
    document.core_properties.title = title
    document.core_properties.author = "WithUs"

    def paragraph(p: Paragraph, style: str | None = None) -> None:
        para = document.add_paragraph(style=style)
        if p.lead:
            para.add_run(p.lead + " ").bold = True
        para.add_run(p.text).italic = p.italic

    for block in blocks:
        if isinstance(block, Heading):
            document.add_heading(block.text, block.level)
        elif isinstance(block, Paragraph):
            paragraph(block)
        elif isinstance(block, Bullets):
            for item in block.items:
                paragraph(item, "List Bullet")
        elif isinstance(block, Quote):
            document.add_paragraph(block.text, style="Quote")
        else:
            table = document.add_table(rows=1, cols=len(block.header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, block.header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(text).bold = True
            for row in block.rows:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- Exports ---------------------------------------------------------------------------------


MODERATED = {"approved": 1, "rejected": -1, "pending": 0}
#: Which statements an export carries: by default only those a reviewer approved; an
#: organiser may ask for every one, each marked with its status.
Included = Literal["approved", "all"]
INCLUDED: dict[str, tuple[str, ...]] = {"approved": ("approved",),
                                        "all": ("approved", "pending", "rejected")}


def export_statements(session: Session, consultation_id: str,
                      include: Included = "approved") -> str:
    """The statements with their counts, like Pol.is's comments.csv (plus passes, question,
    seed and status columns at the end). Authors appear only by pseudonym; seeds have none.
    Every file this module writes goes through storage.spreadsheet: a statement someone
    texted in as `=HYPERLINK(...)` is text in a spreadsheet, never a formula."""
    tallies = ConsultationRepository(session).tallies(consultation_id, INCLUDED[include])
    return csv_text(
        ("timestamp", "datetime", "comment-id", "author-id", "agrees", "disagrees",
         "moderated", "comment-body", "passes", "question-id", "seed", "status"),
        ((int(t.created_at.timestamp()), t.created_at.isoformat(), t.id, t.author_id or "",
          t.agree, t.disagree, MODERATED[t.status], t.text, t.passes, t.question_id,
          int(t.seed), t.status) for t in tallies),
    )


def export_votes(session: Session, consultation_id: str,
                 include: Included = "approved") -> str:
    """One row per vote on the included statements, like Pol.is's votes.csv (1 agree,
    -1 disagree, 0 not sure)."""
    repo = ConsultationRepository(session)
    included = {t.id for t in repo.tallies(consultation_id, INCLUDED[include])}
    return csv_text(("timestamp", "datetime", "comment-id", "voter-id", "vote"),
                    ((int(at.timestamp()), at.isoformat(), sid, pid, VOTE_VALUES[vote])
                     for pid, sid, vote, at in repo.votes(consultation_id)
                     if sid in included))


def export_matrix(session: Session, consultation_id: str,
                  clustering: Clustering | None = None, include: Included = "approved"
                  ) -> str:
    """The participant × statement vote matrix, like Pol.is's participants-votes.csv:
    1 agree, -1 disagree, 0 not sure, blank not seen; with the opinion group if known."""
    repo = ConsultationRepository(session)
    tallies = repo.tallies(consultation_id, INCLUDED[include])
    statements = [t.id for t in tallies]
    included = set(statements)
    votes: dict[str, dict[int, int]] = defaultdict(dict)
    for pid, sid, vote, _at in repo.votes(consultation_id):
        if sid in included:
            votes[pid][sid] = VOTE_VALUES[vote]
    authored: dict[str, int] = defaultdict(int)
    for t in tallies:
        if t.author_id:
            authored[t.author_id] += 1
    group_of = (dict(zip(clustering.participants, clustering.labels, strict=True))
                if clustering else {})
    rows = []
    for pid in sorted(set(votes) | set(authored)):
        mine = votes.get(pid, {})
        group = group_of.get(pid)
        rows.append([pid, "" if group is None else chr(ord("A") + group), authored.get(pid, 0),
                     len(mine), sum(1 for v in mine.values() if v == 1),
                     sum(1 for v in mine.values() if v == -1),
                     *(mine.get(sid, "") for sid in statements)])
    return csv_text(("participant", "group-id", "n-comments", "n-votes", "n-agree",
                     "n-disagree", *map(str, statements)), rows)


def export_all(session: Session, consultation: Consultation, folder: Path, k: int,
               include: Included = "approved") -> list[Path]:
    """Write statements.csv, votes.csv and participants-votes.csv into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    repo = ConsultationRepository(session)
    approved = {t.id for t in repo.tallies(consultation.id)}
    votes = [(p, sid, v) for p, sid, v, _at in repo.votes(consultation.id) if sid in approved]
    clustering = cluster_votes(votes, min_size=k)
    files = {
        "statements.csv": export_statements(session, consultation.id, include),
        "votes.csv": export_votes(session, consultation.id, include),
        "participants-votes.csv": export_matrix(session, consultation.id, clustering, include),
    }
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
