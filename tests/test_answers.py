"""Answer extraction: boxed LaTeX, choice letters, number normalisation, the full fallback chain."""

from __future__ import annotations

import pytest

from archon_cli.answers import extract_answer, extract_choice, last_boxed, normalize_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{42}", "42"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"first \boxed{1}, finally \boxed{2}", "2"),  # the last box
        (r"\fbox{a{b}c}", "a{b}c"),
        (r"\boxed{\boxed{3}}", "3"),  # a box that only holds a box
        (r"\boxed{x + \boxed{3}}", r"x + \boxed{3}"),  # the outer box is the answer
        (r"\boxed { 7 }", "7"),
        (r"\boxed{5} then \boxed{unclosed", "5"),  # a truncated box says nothing
        (r"\boxed 9", "9"),
        ("no box here", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is (B).", "B"),
        ("Answer: B", "B"),
        ("answer: **D**", "D"),
        ("The correct option is C because it adds up.", "C"),
        ("the answer is (b)", "B"),
        ("(C)", "C"),
        ("**B**", "B"),
        ("B", "B"),
        ("B.", "B"),
        ("e", "E"),
        ("A good answer is C", "C"),
        ("A careful reading shows that D fits.", "D"),
        ("I pick C. A different option would be wrong.", "C"),  # the article A is skipped
        ("Option B looks plausible, but the answer is A.", "A"),
        ("The answer is B, not option A.", "B"),
        ("First I thought (A) but the answer is (E)", "E"),
        ("the answer is a tricky one; maybe D", "D"),  # lowercase article, not option A
        (r"\boxed{C}", "C"),
        ("No option letter in this reply at all.", None),
        ("", None),
    ],
)
def test_extract_choice(text: str, expected: str | None) -> None:
    assert extract_choice(text) == expected


def test_extract_choice_respects_letters() -> None:
    assert extract_choice("The answer is F.") is None
    assert extract_choice("The answer is F.", letters="ABCDEFGHIJ") == "F"
    assert extract_choice("E", letters="ABCD") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", "1234"),
        ("1,234,567.80", "1234567.8"),
        ("$5.00", "5"),
        (r"\$5", "5"),
        ("3.50", "3.5"),
        ("-2", "-2"),
        ("\u22122", "-2"),  # unicode minus
        ("-0.0", "0"),
        ("1/2", "1/2"),
        (r"\frac{1}{2}", "1/2"),
        (r"-\dfrac{3}{4}", "-3/4"),
        ("50%", "50"),
        (r"50\%", "50"),
        ("12 apples", "12"),
        ("12 apples.", "12"),
        ("5 km/h", "5"),
        ("12cm", "12"),
        (r"90^\circ", "90"),
        ("007", "7"),
        (".5", "0.5"),
        ("$5$", "5"),
        ("**12**", "12"),
        ("1{,}000", "1000"),
    ],
)
def test_normalize_number(text: str, expected: str) -> None:
    assert normalize_number(text) == expected


@pytest.mark.parametrize(
    "text", ["2x + 3", "2x", "x = 5", "1,23", "five", "", r"2\pi", "12 apples and 3 pears", "10^5"]
)
def test_normalize_number_rejects_non_numbers(text: str) -> None:
    assert normalize_number(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A box wins over everything else.
        (r"The answer is 3. Actually \boxed{4}", "4"),
        (r"\boxed{\frac{1}{2}}", "1/2"),
        (r"\boxed{1,000}", "1000"),
        (r"\boxed{x = 5}", "5"),
        (r"\boxed{\text{Paris}}", "Paris"),
        (r"\boxed{ x^2  +  1 }", "x^2 + 1"),
        (r"\boxed{(B)}", "B"),
        # Answer phrases.
        ("The answer is 42.", "42"),
        ("Final answer: $1,234.00", "1234"),
        ("So the answer is **12** apples, since 5 + 7 = 12.", "12"),
        ("The answer to 10 - 3 is 7", "7"),
        ("The answer is (C), 42 is wrong", "C"),
        ("Answer: -3", "-3"),
        ("The answer is 50%.", "50"),
        # A reply that is only a letter.
        ("B.", "B"),
        # Otherwise the last number.
        ("First 3, then 3 + 4 = 7 apples", "7"),
        ("We get x = -3", "-3"),
        ("5-3", "3"),  # a minus between numbers is subtraction, not a sign
        ("The total is 1,234 dollars", "1234"),
        ("Half is 1/2", "1/2"),
        ("The answer is 2x + 3", "3"),
        ("I do not know.", None),
        ("", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_equal_answers_written_differently_extract_equal() -> None:
    forms = [r"\boxed{1234}", "The answer is 1,234.", "Answer: $1234.00", "so we get 1234 apples"]
    assert {extract_answer(f) for f in forms} == {"1234"}
