"""Small-number suppression: thresholds at k-1, k and k+1, and secondary suppression.

The property tests play the attacker: knowing the rules (a "fewer than k" cell holds
1..k-1, a "hidden" one at least k) and the total, they list every way the hidden cells
could be filled in, and check that each small cell could still be any value from 1 to k-1.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
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
