"""Small-number suppression: the one place that decides which counts may be shown.

Coproduction groups are small and local. "Fewer than 10" is all anyone may learn about a
group smaller than k people (k is `WITHUS_MIN_CELL`, 10 by default), because in a group of
three carers on one ward, "2 said the night staff were unkind" points at people. Every
count the dashboard, a summary, a share-back message or a consultation report shows goes
through this module, so the rule is implemented once and can be tested once.

The rules:

* **Primary suppression.** A count from 1 to k-1 reads "fewer than 10". Zero is shown:
  nobody can be picked out of nobody, and "fewer than 10" for a question nobody was asked
  would mislead. (Pass `hide_zeros=True` where even a zero tells too much.)
* **A small total hides everything under it.** When fewer than k people answered, every
  count in the breakdown reads "fewer than 10" and their free text is hidden.
* **Secondary suppression.** When the cells of a breakdown add up to a total that is
  shown, one hidden cell could be worked out by subtraction. So more cells are hidden
  ("hidden") until no small cell can be narrowed down beyond what "fewer than 10" already
  says. Because this code is public, the check assumes the reader knows the rules: that a
  "fewer than 10" cell holds 1 to 9 and a "hidden" one at least 10. When no choice of
  cells is enough, the total is hidden instead.
* **Sums of cells** (e.g. "consented", made of every stage after consent) are shown only
  when they can already be worked out from what is shown; otherwise they read "hidden".

Pure standard library: no web or database imports, so any layer can use it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

#: The default smallest group that may be described (`WITHUS_MIN_CELL`).
DEFAULT_MIN_CELL = 10

Key = TypeVar("Key", bound=Hashable)
Reason = Literal["shown", "small", "secondary"]


@dataclass(frozen=True)
class Cell:
    """A count as it may be shown: the number, or None when it must stay hidden.

    The true value of a hidden cell is deliberately not kept here, so a template or a
    message can never print it by mistake.
    """

    count: int | None
    reason: Reason
    k: int = DEFAULT_MIN_CELL

    @property
    def hidden(self) -> bool:
        return self.count is None

    @property
    def text(self) -> str:
        """What a reader sees: "1,234", "fewer than 10" or "hidden"."""
        if self.count is not None:
            return f"{self.count:,}"
        if self.reason == "small":
            return f"fewer than {self.k}"
        return "hidden"

    def __str__(self) -> str:
        return self.text


def share(part: Cell, whole: Cell) -> float | None:
    """`part` as a fraction of `whole`, or None unless both are shown (and whole > 0).

    A percentage of a hidden count would give the count away, so there is none.
    """
    if part.count is None or whole.count is None or whole.count == 0:
        return None
    return part.count / whole.count


def percent(part: Cell, whole: Cell) -> str:
    """`share` as a whole-number percentage ("42%"), or "" when it cannot be shown."""
    fraction = share(part, whole)
    return "" if fraction is None else f"{round(fraction * 100)}%"


@dataclass(frozen=True)
class Breakdown(Generic[Key]):
    """A suppressed breakdown: one `Cell` per key, and the total they belong to."""

    cells: dict[Key, Cell]
    total: Cell
    #: True when the cells add up to the total (each person counted once).
    partition: bool

    def __getitem__(self, key: Key) -> Cell:
        return self.cells[key]

    def share(self, key: Key) -> float | None:
        return share(self.cells[key], self.total)

    def percent(self, key: Key) -> str:
        return percent(self.cells[key], self.total)

    def sum(self, keys: Iterable[Key]) -> Cell:
        """The sum of some cells of a partition, shown only if it is already public.

        It is public when every one of those cells is shown, or (with the total shown)
        every other cell is. Anything else would reveal something the suppression hid.
        """
        chosen = set(keys)
        inside = [self.cells[key] for key in chosen]
        outside = [cell for key, cell in self.cells.items() if key not in chosen]
        k = self.total.k
        if all(cell.count is not None for cell in inside):
            return Cell(sum(cell.count or 0 for cell in inside), "shown", k)
        if (self.partition and self.total.count is not None
                and all(cell.count is not None for cell in outside)):
            return Cell(self.total.count - sum(cell.count or 0 for cell in outside), "shown", k)
        if self.total.reason == "small":
            return Cell(None, "small", k)  # part of a group under k is under k too
        return Cell(None, "secondary", k)


class Suppressor:
    """Applies the rules with one threshold `k` (`settings.min_cell`)."""

    def __init__(self, k: int = DEFAULT_MIN_CELL, *, hide_zeros: bool = False) -> None:
        if k < 1:
            raise ValueError("the minimum cell size must be at least 1")
        self.k = k
        self.hide_zeros = hide_zeros

    def _small(self, value: int) -> bool:
        return value < self.k and (value > 0 or self.hide_zeros)

    def count(self, value: int) -> Cell:
        """A single count that sums with nothing else shown (e.g. "people invited")."""
        _check(value)
        if self._small(value):
            return Cell(None, "small", self.k)
        return Cell(value, "shown", self.k)

    def text_visible(self, respondents: int) -> bool:
        """May the free text of this many respondents be shown? Only from k upwards."""
        return respondents >= self.k

    def partition(self, counts: Mapping[Key, int], total: int | None = None, *,
                  total_is_public: bool = True) -> Breakdown[Key]:
        """Suppress a breakdown in which each person is in exactly one cell.

        `total` defaults to the sum of the counts; pass it only to check they agree.
        Totals usually leak: how many answered a required question can be worked out
        from how many got past it. So by default the total is treated as known, is never
        the thing hidden, and when no set of hidden cells protects the small ones, every
        cell reads "hidden". Pass `total_is_public=False` only where the total appears
        nowhere else; it may then be hidden instead, which keeps the other cells.
        """
        for value in counts.values():
            _check(value)
        whole = sum(counts.values())
        if total is not None and total != whole:
            raise ValueError(f"the cells add up to {whole}, not to the total {total}")
        if self._small(whole):
            return self._all_small(counts, partition=True)

        hidden: dict[Key, Reason] = {key: "small" for key, v in counts.items() if self._small(v)}
        if not hidden or self._protected(counts, hidden, whole):
            return self._build(counts, hidden, whole, partition=True)
        # Hide more cells, smallest first (but only ones that help: zeros never do).
        candidates = sorted(
            (key for key, v in counts.items() if key not in hidden and v > 0),
            key=lambda key: counts[key],
        )
        trial = dict(hidden)
        while candidates:
            enough = [key for key in candidates
                      if self._protected(counts, {**trial, key: "secondary"}, whole)]
            # The smallest cell that is enough, or else the biggest, to get there soonest.
            pick = enough[0] if enough else candidates[-1]
            candidates.remove(pick)
            trial[pick] = "secondary"
            if enough:
                return self._build(counts, trial, whole, partition=True)
        if total_is_public:
            # Everything goes, zeros included, all under the one word "hidden": a reader
            # who knows the rules then cannot tell the small cells from the others.
            return self._build(counts, dict.fromkeys(counts, "secondary"), whole,
                               partition=True)
        # No set of cells protects the small ones while the total is shown: hide the
        # total instead, and then the other cells need not be hidden at all.
        return self._build(counts, hidden, None, partition=True)

    def multiple(self, counts: Mapping[Key, int], total: int, *,
                 total_is_public: bool = True) -> Breakdown[Key]:
        """Suppress the options of a multiple-choice question, answered by `total` people.

        People may pick several options, so the cells do not add up and none can be worked
        out from the others. But each option also says how many did *not* choose it
        (`total - chosen`): when that is small, the option is hidden too. Knowing the rule,
        a reader then learns that "did not" is 1..k-1 and the option at least k; if the
        total is under 2k-1 that pins "did not" down further. Then, as for `partition`,
        every option reads "hidden" (or, if `total_is_public=False`, the total is hidden).
        """
        _check(total)
        for value in counts.values():
            _check(value)
            if value > total:
                raise ValueError("an option was chosen by more people than answered")
        if self._small(total):
            return self._all_small(counts, partition=False)
        cells: dict[Key, Cell] = {}
        total_shown = True
        for key, value in counts.items():
            cell = self.count(value)
            if not cell.hidden and self._small(total - value):
                cell = Cell(None, "secondary", self.k)
                # "did not" = total - option, with the option at least k: at most total - k.
                total_shown = total_shown and total - self.k >= self.k - 1
            cells[key] = cell
        if total_shown:
            return Breakdown(cells, self._total_cell(total), False)
        if total_is_public:
            # All under one word: no option can be told apart, so none can be subtracted.
            hidden = {key: Cell(None, "secondary", self.k) for key in counts}
            return Breakdown(hidden, self._total_cell(total), False)
        # Without the total, "did not" cannot be worked out: show what is not small.
        cells = {key: self.count(value) for key, value in counts.items()}
        return Breakdown(cells, self._total_cell(None), False)

    # --- internals -------------------------------------------------------------------

    def _protected(self, counts: Mapping[Key, int], hidden: Mapping[Key, Reason],
                   total: int) -> bool:
        """Can no small hidden cell be narrowed beyond "1 to k-1", given the shown total?

        The reader knows the hidden cells add up to S = total - (the shown cells), that
        each "fewer than k" cell holds lo..k-1 and each "hidden" one at least k. For a
        small cell to keep its whole range lo..k-1, the others must be able to absorb
        every value of it.
        """
        small = [key for key, reason in hidden.items() if reason == "small"]
        if not small:
            return True
        lo = 0 if self.hide_zeros else 1
        a, b = len(small), len(hidden) - len(small)
        s = sum(counts[key] for key in hidden)
        k = self.k
        if b:  # the "hidden" cells can absorb any excess upwards
            return s >= (a - 1) * lo + b * k + (k - 1)
        return (a - 1) * lo + (k - 1) <= s <= (a - 1) * (k - 1) + lo

    def _all_small(self, counts: Mapping[Key, int], *, partition: bool) -> Breakdown[Key]:
        cells = {key: Cell(None, "small", self.k) for key in counts}
        return Breakdown(cells, Cell(None, "small", self.k), partition)

    def _build(self, counts: Mapping[Key, int], hidden: Mapping[Key, Reason],
               total: int | None, *, partition: bool) -> Breakdown[Key]:
        cells = {
            key: Cell(None, hidden[key], self.k) if key in hidden else Cell(value, "shown", self.k)
            for key, value in counts.items()
        }
        return Breakdown(cells, self._total_cell(total), partition)

    def _total_cell(self, total: int | None) -> Cell:
        if total is None:
            return Cell(None, "secondary", self.k)
        return Cell(total, "shown", self.k)


def _check(value: int) -> None:
    if value < 0:
        raise ValueError("a count cannot be negative")
