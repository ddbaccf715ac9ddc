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
from typing import Any, Generic, Literal, TypeVar

#: The default smallest group that may be described (`WITHUS_MIN_CELL`).
DEFAULT_MIN_CELL = 10

Key = TypeVar("Key", bound=Hashable)
Row = TypeVar("Row", bound=Hashable)
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
            # With k = 1 (a copy holding only test data) the only small count is 0.
            return f"fewer than {self.k}" if self.k > 1 else "0"
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

    def group(self, counts: Mapping[Key, int], total: int | None = None, *,
              partition: bool = True) -> Breakdown[Key]:
        """One question (or the funnel) over a whole survey: in full once `total` >= k.

        The threat is a reader learning about a person from a tiny group, not from a
        count of 3 among 40, so a group of k or more is shown as it is, small counts and
        percentages included. Below k every cell and the total read "fewer than k",
        nobody included: "fewer than 10 answered" must not tell 0 apart from 1.
        `total` defaults to the sum of the counts (pass it for multiple choice).
        """
        for value in counts.values():
            _check(value)
        whole = sum(counts.values()) if total is None else total
        _check(whole)
        if whole < self.k:
            cells = {key: Cell(None, "small", self.k) for key in counts}
            return Breakdown(cells, Cell(None, "small", self.k), partition)
        cells = {key: Cell(value, "shown", self.k) for key, value in counts.items()}
        return Breakdown(cells, Cell(whole, "shown", self.k), partition)

    def table(self, counts: Mapping[Row, Mapping[Key, int]], *,
              undisplayed: Iterable[Row] = (), multiple: bool = False,
              totals: Mapping[Row, int] | None = None,
              same_question: bool = False) -> dict[Row, Breakdown[Key]]:
        """A narrowed view or a cross-tab: rows are groups (channels, languages, the
        answers to another question), columns a question's answers.

        The rows must cover the whole survey (people in no displayed row go in an
        `undisplayed` row), because the column totals are public: they are the whole
        survey's figures. Then:

        * a row under k people is hidden whole ("fewer than k"), and other rows are hidden
          with it until no hidden row can be worked out from the total (as `partition`);
        * inside a shown row, a cell of 1 to k-1 is hidden, and more cells are hidden
          until every row and every column with a hidden cell has at least two, so none
          can be worked out by subtraction; where that cannot be done, every row of the
          table is hidden. Zeros may be among the hidden cells, so in a table "fewer
          than k" means 0 to k-1; a column nobody chose reads 0 everywhere.

        For multiple choice (`multiple=True`) the cells of a row do not add up to its
        total, so a cell is hidden too when the people in the row who did not choose it
        are 1 to k-1. `totals` gives each row's total (needed for multiple choice).

        A hidden row's cell that a reader could work out to be 0 counts as worked out
        (learning that nobody in a small group gave an answer is learning about them),
        unless nobody at all gave that answer (the whole survey shows 0), or
        `same_question` says the rows are the answers to the very question in the
        columns: then a row's zeros outside its own answer are known to everyone.
        Returns a `Breakdown` per displayed row.
        """
        keep_out = set(undisplayed)
        columns: list[Key] = []
        for row in counts.values():
            for key, amount in row.items():
                _check(amount)
                if key not in columns:
                    columns.append(key)
        row_total = {r: (totals[r] if totals is not None else sum(row.values()))
                     for r, row in counts.items()}
        whole = sum(row_total.values())
        small = Cell(None, "small", self.k)
        secret = Cell(None, "secondary", self.k)

        # A column nobody chose is 0 in every row, as the whole survey shows: say so.
        empty = {c for c in columns if not any(row.get(c, 0) for row in counts.values())}
        zero = Cell(0, "shown", self.k)

        def whole_row(cell: Cell) -> Breakdown[Key]:
            return Breakdown({c: zero if c in empty else cell for c in columns}, cell,
                             not multiple)

        def everything(cell: Cell) -> dict[Row, Breakdown[Key]]:
            return {r: whole_row(cell) for r in counts if r not in keep_out}

        if whole < self.k:
            empty = set()  # the whole survey's figures are not public either
            return everything(small)
        occupied = [r for r, n in row_total.items() if n]
        if len(occupied) == 1 and occupied[0] not in keep_out:
            # Everyone is in one row: it is the whole survey, whose figures are public.
            return {r: Breakdown({c: Cell(counts[r].get(c, 0), "shown", self.k)
                                  for c in columns},
                                 Cell(row_total[r], "shown", self.k), not multiple)
                    for r in counts if r not in keep_out}
        # Rows first: a partition of everyone, with the undisplayed rows never shown.
        hidden_rows: dict[Row, Reason] = {}
        for r, n in row_total.items():
            if 0 < n < self.k:
                hidden_rows[r] = "small"
            elif r in keep_out and n:
                hidden_rows[r] = "secondary"
        if not self._protected(row_total, hidden_rows, whole):
            candidates = sorted((r for r, n in row_total.items()
                                 if r not in hidden_rows and n > 0), key=row_total.__getitem__)
            while candidates and not self._protected(row_total, hidden_rows, whole):
                enough = [r for r in candidates
                          if self._protected(row_total, {**hidden_rows, r: "secondary"}, whole)]
                pick = enough[0] if enough else candidates[-1]
                candidates.remove(pick)
                hidden_rows[pick] = "secondary"
            if not self._protected(row_total, hidden_rows, whole):
                return everything(secret)
        shown_rows = [r for r in counts if r not in hidden_rows]
        # Then cells, inside the shown rows.
        value: dict[tuple[Row, Key], int] = {
            (r, c): counts[r].get(c, 0) for r in shown_rows for c in columns}
        hidden: dict[tuple[Row, Key], Reason] = {}
        for (r, c), n in value.items():
            if 0 < n < self.k or (multiple and 0 < row_total[r] - n < self.k):
                hidden[(r, c)] = "small"
        unknown_rows = [r for r in hidden_rows if row_total[r] > 0]

        def add_one(options: list[tuple[Row, Key]]) -> bool:
            # A zero helps too where rows and columns cross (the reader cannot tell it
            # from 1), but a cell with people in it helps more.
            options = [cell for cell in options if cell not in hidden and row_total[cell[0]]]
            if not options:
                return False
            busy = {r for r, _c in hidden} | {c for _r, c in hidden}
            options.sort(key=lambda cell: (value[cell] == 0,
                                           cell[0] not in busy and cell[1] not in busy,
                                           value[cell]))
            # A hidden zero reads "fewer than k" like any small cell: "hidden" would say
            # it holds k or more, and a lone "fewer than k" beside it would then be 1..k-1.
            hidden[options[0]] = "secondary" if value[options[0]] else "small"
            return True

        def safe(line: list[tuple[Row, Key]]) -> bool:
            """Can no small hidden cell of this row or column be pinned by its total?"""
            mine = {cell: hidden[cell] for cell in line if cell in hidden}
            if not mine:
                return True
            if len(mine) == 1:
                return False  # a lone hidden cell is its line's total less the rest
            total = sum(value[cell] for cell in line)
            return self._protected(value, mine, total, zeros_hidden=True)

        def settle() -> bool:
            """Hide cells until every row and column is safe on its own."""
            changed = True
            while changed:
                changed = False
                if not multiple:
                    for r in shown_rows:
                        line = [(r, c) for c in columns]
                        if not safe(line):
                            if not add_one(line):
                                return False
                            changed = True
                for c in columns:
                    line = [(r, c) for r in shown_rows]
                    if not unknown_rows and not safe(line):
                        if not add_one(line):
                            return False
                        changed = True
            return True

        for _attempt in range(len(shown_rows) + len(columns) + 1):
            if not settle():
                return everything(secret)
            stuck = self._pinned(value, hidden, columns, shown_rows, row_total, counts,
                                 unknown_rows, hidden_rows, multiple, same_question)
            if stuck is None:
                break
            # Rows and columns crossing at one hidden cell could still give it away:
            # hide its whole row and column, then settle again.
            r0, c0 = stuck
            line = [(r, c0) for r in shown_rows]
            if r0 not in hidden_rows:
                line += [(r0, c) for c in columns]
            grew = False
            for cell in line:
                if cell not in hidden and row_total[cell[0]]:
                    hidden[cell] = "secondary" if value[cell] else "small"
                    grew = True
            if not grew:
                return everything(secret)
        else:
            return everything(secret)
        result: dict[Row, Breakdown[Key]] = {}
        for r in counts:
            if r in keep_out:
                continue
            if r in hidden_rows:
                result[r] = whole_row(small if hidden_rows[r] == "small" else secret)
                continue
            cells = {c: (Cell(None, hidden[(r, c)], self.k) if (r, c) in hidden
                         else Cell(value[(r, c)], "shown", self.k)) for c in columns}
            result[r] = Breakdown(cells, Cell(row_total[r], "shown", self.k), not multiple)
        return result

    # --- internals -------------------------------------------------------------------

    def _pinned(self, value: Mapping[tuple[Any, Any], int],
                hidden: Mapping[tuple[Any, Any], Reason], columns: list[Any],
                shown_rows: list[Any], row_total: Mapping[Any, int],
                counts: Mapping[Any, Mapping[Any, int]], unknown_rows: list[Any],
                hidden_rows: Mapping[Any, Reason], multiple: bool,
                same_question: bool = False) -> tuple[Any, Any] | None:
        """A hidden cell a reader could work out exactly from the table's totals, or None.

        A cell is safe when some other filling-in of the hidden cells fits everything
        shown: one more (or one fewer) in it, balanced around a cycle of hidden cells
        through rows and columns, each staying inside what its words allow ("fewer than
        k": 0 to k-1; "hidden": k or more). The hidden rows together act as one more row
        whose cells are all hidden and whose total is known.
        """
        k = self.k
        cells: dict[tuple[Any, Any], tuple[int, int, float]] = {}
        for cell, reason in hidden.items():
            high: float = k - 1 if reason == "small" else float("inf")
            if multiple:
                high = min(high, row_total[cell[0]])
            cells[cell] = (value[cell], 0 if reason == "small" else k, high)
        # The hidden rows balance together: only the sum of their totals is known. A
        # column nobody at all chose is 0 everywhere, as the whole survey shows. Where the
        # rows are the answers to the column's own question, a hidden row's zeros outside
        # its own answer are known to anyone (nobody who said "under 20 hours" said "50
        # or more"), so a column the hidden rows are all 0 in (with nothing hidden in
        # the shown rows there) may be known too. Otherwise, that nobody in a small group
        # chose something is itself a fact about them, and is checked like any cell.
        rest = object()
        row_of = {r: r for r in shown_rows}
        used = [c for c in columns
                if any(counts[r].get(c, 0) for r in unknown_rows)
                or any((r, c) in hidden for r in shown_rows)
                or (not same_question and any(counts[r].get(c, 0) for r in shown_rows))]
        for r in unknown_rows:
            row_of[r] = rest
            top: float = k - 1 if hidden_rows[r] == "small" else float("inf")
            for c in used:
                cells[(r, c)] = (counts[r].get(c, 0), 0, top)

        def can(cell: tuple[Any, Any], step: int) -> bool:
            v, lo, hi = cells[cell]
            return lo <= v + step <= hi

        by_row: dict[Any, list[tuple[Any, Any]]] = {}
        by_column: dict[Any, list[tuple[Any, Any]]] = {}
        for cell in cells:
            by_row.setdefault(row_of[cell[0]], []).append(cell)
            by_column.setdefault(cell[1], []).append(cell)

        def movable(start: tuple[Any, Any], step: int) -> bool:
            if not can(start, step):
                return False
            r0, c0 = row_of[start[0]], start[1]
            if multiple:  # no row totals: another cell of the column can balance it
                return any(cell != start and can(cell, -step) for cell in by_column[c0])
            seen_rows, seen_columns = {r0}, {c0}
            frontier = [r0]  # rows holding one +step cell, needing a -step one
            while frontier:
                following = []
                for r in frontier:
                    for cell in by_row.get(r, []):
                        if cell == start or not can(cell, -step):
                            continue
                        if cell[1] == c0:
                            return True
                        if cell[1] in seen_columns:
                            continue
                        seen_columns.add(cell[1])
                        for other in by_column[cell[1]]:
                            row = row_of[other[0]]
                            if row not in seen_rows and can(other, step):
                                seen_rows.add(row)
                                following.append(row)
                frontier = following
            return False

        for cell in cells:
            if hidden_rows.get(cell[0]) == "secondary":
                continue  # a hidden row of k or more may be described as a whole
            if not (movable(cell, 1) or movable(cell, -1)):
                return cell
        return None

    def _protected(self, counts: Mapping[Any, int], hidden: Mapping[Any, Reason],
                   total: int, *, zeros_hidden: bool = False) -> bool:
        """Can no small hidden cell be narrowed beyond "1 to k-1", given the shown total?

        The reader knows the hidden cells add up to S = total - (the shown cells), that
        each "fewer than k" cell holds lo..k-1 and each "hidden" one at least k. For a
        small cell to keep its whole range lo..k-1, the others must be able to absorb
        every value of it.
        """
        small = [key for key, reason in hidden.items() if reason == "small"]
        if not small:
            return True
        lo = 0 if self.hide_zeros or zeros_hidden else 1
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
