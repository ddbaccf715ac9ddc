"""Small-number suppression: thresholds at k-1, k and k+1, and secondary suppression.

The property tests play the attacker: knowing the rules (a "fewer than k" cell holds
1..k-1, a "hidden" one at least k) and the total, they list every way the hidden cells
could be filled in, and check that each small cell could still be any value from 1 to k-1.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from surveys.suppression import Breakdown, Cell, Suppressor, percent, share

K = 10


@pytest.fixture
def suppress() -> Suppressor:
    return Suppressor(K)


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (1, "fewer than 10"), (K - 1, "fewer than 10"), (K, "10"), (K + 1, "11"),
    (12345, "12,345"),
])
def test_a_single_count_at_the_threshold(suppress: Suppressor, value: int, text: str) -> None:
    cell = suppress.count(value)
    assert cell.text == str(cell) == text
    assert cell.hidden is (0 < value < K)
    if cell.hidden:
        assert cell.count is None  # the true value is not kept anywhere to leak


def test_zeros_can_be_hidden_too() -> None:
    assert Suppressor(K, hide_zeros=True).count(0).text == "fewer than 10"


@pytest.mark.parametrize(("respondents", "visible"), [(K - 1, False), (K, True), (K + 1, True)])
def test_free_text_needs_k_respondents(suppress: Suppressor, respondents: int,
                                       visible: bool) -> None:
    assert suppress.text_visible(respondents) is visible


def test_a_total_below_k_hides_every_cell(suppress: Suppressor) -> None:
    result = suppress.partition({"yes": K - 1, "no": 0})
    assert result.total.text == "fewer than 10"
    assert all(cell.text == "fewer than 10" for cell in result.cells.values())
    assert result.share("yes") is None and result.percent("no") == ""


@pytest.mark.parametrize("small", [K - 1, 1])
def test_one_small_cell_takes_another_with_it(suppress: Suppressor, small: int) -> None:
    # Without secondary suppression, 40 - 30 would give the small cell away.
    counts = {"a": small, "b": 30, "c": 40}
    result = suppress.partition(counts)
    assert result["a"].text == "fewer than 10"
    assert result["b"].text == "hidden"  # the smallest cell that is enough
    assert result["c"].count == 40 and result.total.count == small + 70
    _assert_protected(suppress, counts, result)


@pytest.mark.parametrize("value", [K, K + 1])
def test_cells_of_k_and_more_need_no_suppression(suppress: Suppressor, value: int) -> None:
    result = suppress.partition({"yes": value, "no": value + 5})
    assert [c.count for c in result.cells.values()] == [value, value + 5]
    assert result.total.count == 2 * value + 5
    assert result.percent("yes") == f"{round(100 * value / (2 * value + 5))}%"


def test_several_small_cells_can_protect_each_other(suppress: Suppressor) -> None:
    counts = {"very_good": 30, "good": 15, "neither": 5, "poor": 4, "very_poor": 2, "dk": 1}
    result = suppress.partition(counts)
    # 5 + 4 + 2 + 1 = 12: any one of them could still be anything from 1 to 9.
    assert [c.text for c in result.cells.values()] == [
        "30", "15", "fewer than 10", "fewer than 10", "fewer than 10", "fewer than 10"]
    _assert_protected(suppress, counts, result)


def test_two_small_cells_adding_up_to_18_are_not_enough(suppress: Suppressor) -> None:
    # 9 + 9 = 18 with both under 10 means both are 9: something else must be hidden.
    counts = {"a": 9, "b": 9, "c": 50}
    result = suppress.partition(counts)
    assert result["c"].hidden or result.total.hidden
    _assert_protected(suppress, counts, result)


def test_when_no_cell_is_enough_every_cell_reads_hidden(suppress: Suppressor) -> None:
    # Yes 1, no 10: hiding "no" as well still leaves 11 - (at least 10) = 1 for anyone
    # who knows the rules, so both read the same word and cannot be told apart.
    result = suppress.partition({"yes": 1, "no": K})
    assert result.total.count == K + 1
    assert [c.text for c in result.cells.values()] == ["hidden", "hidden"]


def test_a_total_shown_nowhere_else_may_be_hidden_instead(suppress: Suppressor) -> None:
    result = suppress.partition({"yes": 1, "no": K}, total_is_public=False)
    assert result.total.text == "hidden"
    assert result["yes"].text == "fewer than 10" and result["no"].count == K


def test_a_public_total_is_never_the_cell_hidden(suppress: Suppressor) -> None:
    # 15 responses, shown on the page anyway: 13 by SMS, 2 by WhatsApp, 0 by Telegram.
    result = suppress.partition({"sms": 13, "whatsapp": 2, "telegram": 0})
    assert result.total.count == 15
    assert [c.text for c in result.cells.values()] == ["hidden", "hidden", "hidden"]
    assert result.sum(["sms", "whatsapp", "telegram"]).count == 15
    # When secondary suppression is enough, it is used as usual.
    usual = suppress.partition({"a": 3, "b": 30, "c": 40})
    assert [c.text for c in usual.cells.values()] == ["fewer than 10", "hidden", "40"]


def test_a_yes_no_split_of_a_large_group(suppress: Suppressor) -> None:
    result = suppress.partition({"yes": 3, "no": 40})
    assert result["yes"].text == "fewer than 10" and result["no"].text == "hidden"
    assert result.total.count == 43


def test_sums_are_shown_only_when_already_public(suppress: Suppressor) -> None:
    funnel = suppress.partition({"declined": 3, "stopped": 25, "completed": 40})
    assert funnel["declined"].hidden and funnel["stopped"].hidden
    assert funnel.sum(["stopped", "completed"]).text == "hidden"  # would give 68 - 3 away
    assert funnel.sum(["completed"]).count == 40
    clear = suppress.partition({"declined": 12, "stopped": 25, "completed": 40})
    assert clear.sum(["stopped", "completed"]).count == 65
    small = suppress.partition({"declined": 1, "stopped": 2, "completed": 3})
    assert small.sum(["stopped", "completed"]).text == "fewer than 10"


def test_multiple_choice_options_are_checked_against_their_complement(
        suppress: Suppressor) -> None:
    result = suppress.multiple({"family": 45, "breaks": 12, "groups": 4, "gp": 0}, total=50)
    assert result["family"].text == "hidden"  # 50 - 45: only 5 did not choose it
    assert result["breaks"].count == 12 and result["gp"].count == 0
    assert result["groups"].text == "fewer than 10"
    assert result.total.count == 50 and not result.partition


def test_multiple_choice_hides_everything_when_it_must(suppress: Suppressor) -> None:
    # Family hidden, total 11 shown: "did not" would be 11 - (at least 10) = exactly 1.
    result = suppress.multiple({"family": 10, "breaks": 2}, total=11)
    assert result.total.count == 11
    assert [c.text for c in result.cells.values()] == ["hidden", "hidden"]
    private = suppress.multiple({"family": 10, "breaks": 2}, total=11, total_is_public=False)
    assert private.total.text == "hidden"
    assert private["family"].count == 10 and private["breaks"].hidden
    wide = suppress.multiple({"family": 15, "breaks": 2}, total=2 * K - 1)
    assert wide.total.count == 2 * K - 1 and wide["family"].text == "hidden"


@pytest.mark.parametrize("total", [K - 1, K, K + 1])
def test_multiple_choice_thresholds(suppress: Suppressor, total: int) -> None:
    result = suppress.multiple({"a": total // 2}, total=total)
    assert result.total.hidden is (total < K)


def test_bad_input_is_refused(suppress: Suppressor) -> None:
    with pytest.raises(ValueError):
        suppress.count(-1)
    with pytest.raises(ValueError):
        suppress.partition({"a": 1}, total=2)
    with pytest.raises(ValueError):
        suppress.multiple({"a": 3}, total=2)
    with pytest.raises(ValueError):
        Suppressor(0)


def test_share_and_percent_need_both_counts() -> None:
    shown, hidden = Cell(5, "shown"), Cell(None, "small")
    assert share(shown, Cell(20, "shown")) == 0.25 and percent(shown, Cell(20, "shown")) == "25%"
    assert share(hidden, Cell(20, "shown")) is None and share(shown, Cell(0, "shown")) is None


# --- the attacker's view ----------------------------------------------------------------


def _assert_protected(suppress: Suppressor, counts: dict[str, int],
                      result: Breakdown[str]) -> None:
    """Every small cell could still hold any value 1..k-1, whatever else is known."""
    k, lo = suppress.k, (0 if suppress.hide_zeros else 1)
    if result.total.count is None:
        return  # without the total nothing can be subtracted
    hidden = [key for key, cell in result.cells.items() if cell.hidden]
    if not hidden:
        return
    if len(hidden) == len(counts) and all(result[k].reason == "secondary" for k in hidden):
        # All hidden under one word: each could be anything from 0 to the total.
        assert len(hidden) >= 2 and result.total.count >= 2
        return
    remaining = result.total.count - sum(c.count or 0 for c in result.cells.values())
    ranges = []
    for key in hidden:
        if result[key].reason == "small":
            ranges.append(range(lo, k))
        else:
            ranges.append(range(k, remaining + 1))
    possible: dict[str, set[int]] = {key: set() for key in hidden}
    for values in itertools.product(*ranges):
        if sum(values) == remaining:
            for key, value in zip(hidden, values, strict=True):
                possible[key].add(value)
    for key in hidden:
        assert counts[key] in possible[key]  # the truth is consistent with what is shown
        if result[key].reason == "small":
            assert possible[key] == set(range(lo, k)), (key, counts, possible[key])


@settings(max_examples=400, deadline=None)
@given(k=st.integers(2, 5), values=st.lists(st.integers(0, 14), min_size=1, max_size=4),
       hide_zeros=st.booleans(), public=st.booleans())
def test_no_small_cell_can_be_worked_out(k: int, values: list[int], hide_zeros: bool,
                                         public: bool) -> None:
    suppress = Suppressor(k, hide_zeros=hide_zeros)
    counts = {f"c{i}": v for i, v in enumerate(values)}
    result = suppress.partition(counts, total_is_public=public)
    if public and not (0 < sum(values) < k or (hide_zeros and sum(values) < k)):
        assert result.total.count == sum(values)
    for key, cell in result.cells.items():
        if cell.count is not None:
            assert cell.count == counts[key]
            assert cell.count >= k or (cell.count == 0 and not hide_zeros)
    if not result.total.hidden:
        assert result.total.count == sum(values)
    if 0 < sum(values) < k or (hide_zeros and sum(values) < k):
        assert all(cell.hidden for cell in result.cells.values())
    _assert_protected(suppress, counts, result)


# --- the whole-survey rule and narrowed views -----------------------------------------------


@pytest.mark.parametrize("total", [K - 1, K, K + 1])
def test_a_question_is_shown_in_full_from_k_answers(suppress: Suppressor, total: int) -> None:
    result = suppress.group({"good": total - 1, "poor": 1})
    if total < K:
        assert result.total.text == "fewer than 10"
        assert all(cell.text == "fewer than 10" for cell in result.cells.values())
    else:
        assert result.total.count == total
        assert result["poor"].text == "1"  # one among k or more: not a group of one
        assert result.percent("poor") == f"{round(100 / total)}%"


def test_nobody_answered_reads_like_a_few(suppress: Suppressor) -> None:
    # "0" beside "fewer than 10" elsewhere would tell 0 from 1..9.
    assert suppress.group({"yes": 0, "no": 0}).total.text == "fewer than 10"


def test_a_small_row_of_a_table_hides_with_another(suppress: Suppressor) -> None:
    table = suppress.table({"sms": {"good": 30, "poor": 12}, "whatsapp": {"good": 3, "poor": 2},
                            "telegram": {"good": 15, "poor": 10}})
    assert table["whatsapp"].total.text == "fewer than 10"
    assert table["telegram"].total.text == "hidden"  # else 72 - 42 - 25 = 5
    assert table["sms"]["poor"].count == 12


def test_a_small_cell_takes_cells_in_its_row_and_column(suppress: Suppressor) -> None:
    table = suppress.table({"sms": {"good": 30, "poor": 3, "fair": 20},
                            "whatsapp": {"good": 12, "poor": 15, "fair": 11}})
    hidden = {(r, c) for r, row in table.items() for c, cell in row.cells.items() if cell.hidden}
    assert ("sms", "poor") in hidden
    for row in ("sms", "whatsapp"):
        assert sum(1 for r, _c in hidden if r == row) != 1
    for column in ("good", "poor", "fair"):
        assert sum(1 for _r, c in hidden if c == column) != 1


def test_rows_nobody_can_ask_for_are_always_hidden(suppress: Suppressor) -> None:
    table = suppress.table({"in": {"a": 20, "b": 15}, "before": {"a": 30, "b": 12}},
                           undisplayed=["before"])
    assert set(table) == {"in"} and table["in"]["a"].count == 20


def _table_reader(k: int, counts: dict[str, dict[str, int]], table: dict, undisplayed: set):
    from tests.differencing import Figure, Reader

    reader = Reader(k)
    columns = sorted({c for row in counts.values() for c in row})
    whole = sum(sum(row.values()) for row in counts.values())
    if whole >= k:  # the whole survey's figures are public once k answered
        for c in columns:
            reader.equal({f"{r}:{c}": 1 for r in counts},
                         sum(row.get(c, 0) for row in counts.values()))
    else:
        reader.fact({f"{r}:{c}": 1 for r in counts for c in columns}, 0, k - 1)
    for r in counts:
        reader.fact({**{f"{r}:{c}": 1 for c in columns}, f"{r}:total": -1}, 0, 0)
        if r in undisplayed:
            continue
        shown = table[r]
        total = shown.total
        reader.read(f"{r} total", {f"{r}:total": 1},
                    Figure(total.text, total.count, total.reason == "small"), floor=0)
        for c in columns:  # in a table, "fewer than k" may be a hidden zero
            cell = shown[c]
            reader.read(f"{r}:{c}", {f"{r}:{c}": 1},
                        Figure(cell.text, cell.count, cell.reason == "small"), floor=0)
    return reader


@settings(max_examples=150, deadline=None)
@example(k=3, rows=3, cols=2, values=[0, 3, 0, 1, 0, 0, 2, 0, 0], hide_last=False)
@example(k=3, rows=3, cols=2, values=[0, 3, 0, 1, 0, 0, 2, 0, 0], hide_last=True)
@given(k=st.integers(3, 5), rows=st.integers(2, 3), cols=st.integers(2, 3),
       values=st.lists(st.integers(0, 14), min_size=9, max_size=9),
       hide_last=st.booleans())
def test_no_cell_of_a_table_can_be_worked_out(k: int, rows: int, cols: int,
                                              values: list[int], hide_last: bool) -> None:
    counts = {f"r{i}": {f"c{j}": values[i * 3 + j] for j in range(cols)} for i in range(rows)}
    undisplayed = {f"r{rows - 1}"} if hide_last else set()
    table = Suppressor(k).table(counts, undisplayed=undisplayed)
    everyone_in_one = sum(1 for row in counts.values() if sum(row.values())) == 1
    for r, row in table.items():
        for c, cell in row.cells.items():
            assert cell.count is None or cell.count == counts[r][c]
            # A small cell is shown only where its row is the whole survey (public).
            assert (cell.count is None or cell.count == 0 or cell.count >= k
                    or everyone_in_one)
    reader = _table_reader(k, counts, table, undisplayed)
    assert not reader.leaks(), (counts, reader.leaks())


def test_a_table_does_not_hide_a_row_for_zeros_a_reader_may_know() -> None:
    """Grouped by hours caring, the hours question itself: the 20-to-49 row holds everyone
    who said so, and the hidden rows' zeros in that column are no secret (nobody can be
    picked out of nobody). Before, they counted as "worked out", and the shown row lost
    its figures; a column nobody chose did the same."""
    columns = ["u", "m", "h", "n", "skipped"]
    rows = {"u": 12, "m": 20, "h": 9, "n": 3}
    counts = {r: {c: (n if c == r else 0) for c in columns} for r, n in rows.items()}
    counts["none"] = dict.fromkeys(columns, 0)
    # The same figures for a different question would say something about the small
    # groups (nobody who cares 50 hours or more chose "m"): there they are protected.
    other = Suppressor(10).table(counts, undisplayed=["none"])
    assert other["m"]["m"].hidden
    table = Suppressor(10).table(counts, undisplayed=["none"], same_question=True)
    assert {c: str(cell) for c, cell in table["m"].cells.items()} == {
        "u": "0", "m": "20", "h": "0", "n": "0", "skipped": "0"}
    assert str(table["h"].total) == "fewer than 10" and str(table["n"].total) == "fewer than 10"
    assert table["u"].total.hidden  # else the two small rows' 12 follows from the total
    assert all(table[r]["skipped"].count == 0 for r in rows)
