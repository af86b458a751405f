"""Pull a final answer out of free text: boxed LaTeX, "answer is" phrases, letters, numbers.

Pure functions, no model. Majority vote and benchmark scorers compare answers through these, so
two replies that state the same answer in different words should extract to the same string.
"""

from __future__ import annotations

import re

DEFAULT_LETTERS = "ABCDE"

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
# `\boxed 5` (no braces) is legal LaTeX and some models write it.
_BOX_BARE = re.compile(r"\\boxed\s+([^\s${}]+)")
_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mathbf|textit|mbox)\s*\{(.*)\}$", re.S)
_ASSIGNMENT = re.compile(r"^[A-Za-z]\s*=\s*(.+)$", re.S)

_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
_NUMBER_START = re.compile(
    rf"""
    (?P<sign>[-+]?)\s*
    (?:\\?\$|[€£¥])?\s*
    (?P<sign2>-?)
    (?:
        \\[dt]?frac\s*\{{\s*(?P<fn>{_DIGITS})\s*\}}\s*\{{\s*(?P<fd>{_DIGITS})\s*\}}
      | (?P<num>{_DIGITS})(?:\s*/\s*(?P<den>{_DIGITS}))?
    )
    """,
    re.X,
)
# What may follow a number that is still "just that number": a percent sign, a degree sign,
# a LaTeX text unit, or words ("12 apples", "5 km/h"). A lone glued letter is a variable ("2x").
_UNIT_TAIL = re.compile(
    r"""
    (?:
        \\?%
      | °
      | \^\s*\{?\s*\\circ\s*\}?
      | \\(?:text|mathrm)\s*\{[^{}]*\}
      | \s+[A-Za-z][A-Za-z\s.'/]*
      | [A-Za-z]{2,}[A-Za-z\s.'/]*
    )?
    \s*[.!]?
    """,
    re.X,
)
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.,/])-?(?:\\[dt]?frac\{\d+\}\{\d+\}|"
    r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+(?:\.\d+)?)?)"
)
# "The answer is", "Final answer:", "the answer to the question is" (short gap, same sentence).
_ANSWER_PHRASE = re.compile(
    r"\banswer\b(?:[^\n.:]{0,30}?\b(?:is|was|would\s+be|will\s+be|should\s+be)\b|\s*[:=])\s*:?",
    re.I,
)
# End of the answer phrase's clause: a sentence end, a semicolon or a comma followed by a space.
_CLAUSE_END = re.compile(r"[;\n]|,\s|\.(?:\s|$)")


def _closing_brace(text: str, open_index: int) -> int | None:
    """Index of the brace that closes the one at ``open_index``, or None if it never closes."""
    depth = 0
    for i in range(open_index, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _whole_box(text: str) -> str | None:
    """The content when ``text`` is exactly one box (``\\boxed{x}`` -> ``x``), else None."""
    m = _BOX_START.match(text)
    if m is None:
        return None
    end = _closing_brace(text, m.end() - 1)
    return text[m.end() : end] if end == len(text) - 1 else None


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}``, nested braces kept balanced."""
    found: str | None = None
    pos = 0
    while (m := _BOX_START.search(text, pos)) is not None:
        end = _closing_brace(text, m.end() - 1)
        if end is None:
            # An unclosed box (a truncated reply) says nothing; a later one still may.
            pos = m.end()
            continue
        found = text[m.end() : end]
        # Skip boxes nested inside this one: the outermost box is the one the writer meant.
        pos = end + 1
    if found is None:
        bare = _BOX_BARE.findall(text)
        return bare[-1] if bare else None
    found = found.strip()
    while (inner := _whole_box(found)) is not None:
        found = inner.strip()
    return found


def _letter_class(letters: str, both_cases: bool) -> str:
    chars = letters.upper() + (letters.lower() if both_cases else "")
    return "[" + re.escape(chars) + "]"


def _lone_choice(text: str, letters: str) -> str | None:
    """The letter when the whole reply is just an option: "B", "B.", "(B)", "**B**"."""
    letter = _letter_class(letters, True)
    m = re.fullmatch(rf"\s*(?:\*\*)?\s*[(\[]?\s*({letter})\s*[)\]]?\s*(?:\*\*)?\s*[.:]?\s*", text)
    return m.group(1).upper() if m else None


def _leading_choice(text: str, letters: str) -> str | None:
    """An option letter at the very start of ``text`` ("(B) 42", "B because ...")."""
    m = re.match(
        rf"\s*(?P<open>[(\[*]*)\s*(?P<letter>{_letter_class(letters, True)})[)\]*]*(?![A-Za-z0-9])",
        text,
    )
    if m is None:
        return None
    letter = m.group("letter")
    # A bare lowercase "a" is the article, not option A; brackets make it an option.
    if letter.islower() and not m.group("open"):
        return None
    return letter.upper()


def extract_choice(text: str, letters: str = DEFAULT_LETTERS) -> str | None:
    """A multiple-choice letter: explicit answer phrasing first, else the last standalone letter."""
    if not letters:
        return None
    boxed = last_boxed(text)
    if boxed:
        letter = _lone_choice(_unwrap_text(boxed), letters)
        if letter:
            return letter
    any_case = _letter_class(letters, True)
    explicit = re.compile(
        r"\b(?:answer|(?:correct|right|best)\s+(?:option|choice))\b"
        r"(?:\s+(?:is|would\s+be|will\s+be|should\s+be|must\s+be)\b|\s*[:=])?\s*:?\s*"
        r"(?:(?:option|choice|letter)\s+)?"
        rf"(?P<open>[(\[*]*)\s*(?P<letter>{any_case})[)\]*]*(?![A-Za-z0-9])",
        re.I,
    )
    # re.I also makes the letter class match lowercase, so filter out the bare article "a".
    hits = [
        m.group("letter").upper() for m in explicit.finditer(text) if m.group("letter").isupper() or m.group("open")
    ]
    if hits:
        return hits[-1]
    lone = _lone_choice(text, letters)
    if lone:
        return lone
    upper = _letter_class(letters, False)
    standalone = re.compile(
        rf"[(\[](?P<b>{upper})[)\]]"
        rf"|\*\*(?P<s>{upper})\*\*"
        rf"|(?<![A-Za-z0-9'\u2019\-])(?P<w>{upper})(?![A-Za-z0-9'\u2019\-])"
    )
    last: str | None = None
    for m in standalone.finditer(text):
        if m.group("w") == "A" and re.match(r"\s+[a-z]", text[m.end() :]):
            continue  # "A good answer ...": the article, not option A
        last = m.group("b") or m.group("s") or m.group("w")
    return last


def _canonical(digits: str) -> str:
    """ "1,234.50" -> "1234.5", "007" -> "7", ".5" -> "0.5"."""
    digits = digits.replace(",", "")
    whole, _, frac = digits.partition(".")
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def normalize_number(s: str) -> str | None:
    """A number in canonical form ("$1,234.50" -> "1234.5", "50%" -> "50"), or None if not one.

    Trailing units ("12 apples", "5 km") are dropped; fractions stay fractions ("1/2",
    ``\\frac{1}{2}`` -> "1/2"); anything else after the number (``2x + 3``) means it is not one.
    """
    t = s.strip().replace("{,}", ",").replace("\\,", "").replace("\\!", "")
    t = t.replace("\u2212", "-")
    t = t.strip("*").strip()
    if len(t) > 1 and t.startswith("$") and t.endswith("$"):
        t = t.strip("$").strip()  # $5$ is LaTeX math, not five dollars and a stray sign
    for opener, closer in (("\\(", "\\)"), ("\\[", "\\]")):
        if t.startswith(opener) and t.endswith(closer):
            t = t[len(opener) : -len(closer)].strip()
    m = _NUMBER_START.match(t)
    if m is None or _UNIT_TAIL.fullmatch(t[m.end() :]) is None:
        return None
    if m.group("num") is not None:
        value = _canonical(m.group("num"))
        if m.group("den") is not None:
            value += "/" + _canonical(m.group("den"))
    else:
        value = _canonical(m.group("fn")) + "/" + _canonical(m.group("fd"))
    negative = (m.group("sign") == "-") != (m.group("sign2") == "-")
    if negative and value.split("/")[0] != "0":
        value = "-" + value
    return value


def _unwrap_text(content: str) -> str:
    """``\\text{Paris}`` -> ``Paris``: the wrapper is typesetting, not part of the answer."""
    content = content.strip()
    while (m := _TEXT_WRAPPER.match(content)) is not None and _closing_brace(content, content.index("{")) == len(
        content
    ) - 1:
        content = m.group(1).strip()
    return content


def _boxed_answer(content: str, letters: str) -> str | None:
    content = _unwrap_text(content)
    number = normalize_number(content)
    if number is not None:
        return number
    assignment = _ASSIGNMENT.match(content)
    if assignment:
        # \boxed{x = 5} and \boxed{5} give the same answer.
        number = normalize_number(assignment.group(1))
        if number is not None:
            return number
    letter = _lone_choice(content, letters)
    if letter is not None:
        return letter
    return " ".join(content.split()) or None


def _answer_phrase(text: str, letters: str) -> str | None:
    """The number or letter right after the last "the answer is" / "Answer:" phrase."""
    matches = list(_ANSWER_PHRASE.finditer(text))
    if not matches:
        return None
    tail = text[matches[-1].end() :].lstrip()
    clause = tail[: m.start()] if (m := _CLAUSE_END.search(tail)) else tail
    number = normalize_number(clause)
    if number is not None:
        return number
    return _leading_choice(tail.replace("**", ""), letters)


def extract_answer(text: str, letters: str = DEFAULT_LETTERS) -> str | None:
    """The final answer in ``text``, normalised so equal answers compare equal.

    In order: the last boxed expression (as a number when it is one, else whitespace-collapsed),
    the number or option letter after "the answer is" / "Answer:", a reply that is only an option
    letter, the last number in the text; None when there is none of these.
    """
    boxed = last_boxed(text)
    if boxed:
        answer = _boxed_answer(boxed, letters)
        if answer is not None:
            return answer
    answer = _answer_phrase(text, letters)
    if answer is not None:
        return answer
    answer = _lone_choice(text, letters)
    if answer is not None:
        return answer
    for token in reversed(_NUMBER_TOKEN.findall(text)):
        number = normalize_number(token)
        if number is not None:
            return number
    return None
