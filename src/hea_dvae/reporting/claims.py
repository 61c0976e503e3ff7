"""Claims: the sentences of the book that compare, tied to the numbers they rest on.

A sentence such as "the expert prior beats the flat prior at 2 % labels" is
a result like a number: a re-execution on another CPU, or a change of the
code, may reverse it. So every comparative sentence of a chapter is a
*claim*:

- it rests on numbers the chapter has recorded (:func:`hea_dvae.reporting.record`),
  named by their record keys;
- a *rule* (:data:`RULES`) turns those numbers into an *outcome*, e.g.
  ``"above zero"``, ``"below zero"`` or ``"not resolved"`` for a paired
  difference and its interval;
- the chapter gives one sentence per outcome; the one that holds is glued
  as Markdown under ``said_<name>``, so the prose says what the numbers say
  (``{glue:md}`said_name```), and the outcome as text under ``claim_<name>``;
- the claim is recorded (kind ``"claim"``): ``tests/reference`` keeps its
  outcome, and the tests re-derive the outcome from the *new* numbers of a
  re-execution with the same rule (:func:`check`). A changed outcome fails
  the check, naming the sentence that no longer holds.

Rules take numbers by role; each is a small pure function:

``interval``  (``low``, ``high``)
    ``"above zero"`` if the interval excludes zero from above, ``"below
    zero"`` from below, else ``"not resolved"``.
``greater``  (``a``, ``b``, optional ``margin``)
    ``"greater"`` if ``a > b + margin``, ``"less"`` if ``a < b - margin``,
    else ``"equal within the margin"``.
``within``  (``value``, ``low``, ``high``)
    ``"inside"`` or ``"outside"`` the interval.
``sign``  (``value``)
    ``"positive"``, ``"negative"`` or ``"zero"``.
``at least``  (``value``, ``threshold``)
    ``"met"`` or ``"missed"``: a target.
``first``  (any number of roles)
    the role with the largest value (ties: the first listed).
"""

from __future__ import annotations

import inspect
import math
from typing import Callable, Mapping

from .records import _state, _write, record

#: The kind of a claim's record.
CLAIM = "claim"


def _interval(low: float, high: float) -> str:
    if low > 0:
        return "above zero"
    if high < 0:
        return "below zero"
    return "not resolved"


def _greater(a: float, b: float, margin: float = 0.0) -> str:
    if a > b + margin:
        return "greater"
    if a < b - margin:
        return "less"
    return "equal within the margin"


def _within(value: float, low: float, high: float) -> str:
    return "inside" if low <= value <= high else "outside"


def _sign(value: float) -> str:
    return "positive" if value > 0 else "negative" if value < 0 else "zero"


def _at_least(value: float, threshold: float) -> str:
    return "met" if value >= threshold else "missed"


def _first(**values: float) -> str:
    return max(values, key=lambda role: (values[role], -list(values).index(role)))


#: Rule name -> (function of the numbers by role, the outcomes it can give; None: role names).
RULES: dict[str, tuple[Callable[..., str], tuple[str, ...] | None]] = {
    "interval": (_interval, ("above zero", "below zero", "not resolved")),
    "greater": (_greater, ("greater", "less", "equal within the margin")),
    "within": (_within, ("inside", "outside")),
    "sign": (_sign, ("positive", "negative", "zero")),
    "at least": (_at_least, ("met", "missed")),
    "first": (_first, None),
}


def _roles(rule: str) -> tuple[str, ...] | None:
    """The roles ``rule`` decides on (None: every role given, as for ``first``)."""
    parameters = inspect.signature(RULES[rule][0]).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return tuple(p.name for p in parameters)


def outcome_of(rule: str, numbers: Mapping[str, float]) -> str:
    """The outcome of ``rule`` on numbers given by role.

    Roles the rule does not take (a difference quoted beside its interval)
    are not part of the decision; they are only there for the sentence.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known rules: {', '.join(RULES)}")
    roles = _roles(rule)
    values = {role: float(value) for role, value in numbers.items() if roles is None or role in roles}
    needed = [p.name for p in inspect.signature(RULES[rule][0]).parameters.values()
              if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    missing = [role for role in needed if role not in values]
    if missing:
        raise ValueError(f"rule {rule!r} needs the number(s) {', '.join(missing)}")
    bad = [role for role, value in values.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"rule {rule!r}: the numbers of {', '.join(bad)} are not finite")
    return RULES[rule][0](**values)


def _constant_key(name: str, role: str) -> str:
    return f"claim_{name}__{role}"


def claim(name: str, rule: str, evidence: Mapping[str, str | float], sentences: Mapping[str, str]) -> str:
    """Decide a claim from recorded numbers, record it, glue its sentence and return the sentence.

    Parameters
    ----------
    name : str
        The claim's name; recorded (its outcome glued) as ``claim_<name>``;
        its sentence is glued as ``said_<name>``.
    rule : str
        One of :data:`RULES`.
    evidence : mapping
        Role -> the record key of a number this chapter has recorded (so
        the check can re-derive the outcome from a re-execution), or a plain
        number for a constant of the claim (a published value, a target, a
        margin), which is recorded beside it as an exact number. Roles
        the rule does not take (a difference quoted beside its interval)
        are quoted by the sentence and checked as numbers, not decided on.
    sentences : mapping
        Outcome -> the sentence (Markdown) to print when it holds; it may
        quote the numbers by role, ``{low:.3f}``. Every outcome the rule
        can give needs a sentence (for ``"first"``: every role).

    Returns
    -------
    str
        The sentence of the outcome that holds, formatted.

    Raises
    ------
    KeyError
        A record key the chapter has not recorded.
    ValueError
        An unknown rule, or an outcome without a sentence.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known rules: {', '.join(RULES)}")
    outcomes = RULES[rule][1] or tuple(evidence)
    missing = [outcome for outcome in outcomes if outcome not in sentences]
    if missing:
        raise ValueError(f"claim {name!r}: no sentence for the outcome(s) {missing}")
    keys = {}
    for role, item in evidence.items():
        if isinstance(item, str):
            keys[role] = item
        else:
            keys[role] = _constant_key(name, role)
            record(keys[role], item, kind="exact")
    recorded = _state["records"]
    absent = [key for key in keys.values() if key not in recorded]
    if absent:
        raise KeyError(f"claim {name!r} rests on numbers not recorded in this chapter: {absent}")
    numbers = {role: recorded[key]["value"] for role, key in keys.items()}
    outcome = outcome_of(rule, numbers)
    sentence = sentences[outcome].format(**numbers)
    entry_key = f"claim_{name}"
    record(entry_key, outcome, kind="exact")  # the outcome, glued as text: read back from the notebook
    _state["records"][entry_key].update(kind=CLAIM, rule=rule, evidence=keys, sentence=sentence)
    _write()
    _glue_markdown(f"said_{name}", sentence)
    return sentence


def interval_claim(name: str, interval, sentences: Mapping[str, str], *, tolerance: float, basis: str) -> str:
    """Record a difference and its interval, and decide the claim ``name`` on it (rule ``interval``).

    ``interval`` is ``(difference, low, high)`` (an
    :class:`~hea_dvae.metrics.Interval` or a row of a paired table); the three
    numbers are recorded as ``<name>_difference``, ``<name>_low`` and
    ``<name>_high`` (trained, within ``tolerance``), and the sentences may
    quote them as ``{difference}``, ``{low}`` and ``{high}``.
    """
    difference, low, high = (float(v) for v in interval)
    for role, value in (("difference", difference), ("low", low), ("high", high)):
        record(f"{name}_{role}", value, kind="trained", tolerance=tolerance, basis=basis)
    return claim(name, "interval", {role: f"{name}_{role}" for role in ("difference", "low", "high")}, sentences)


def difference_sentences(subject: str, a: str, b: str, unit: str = "") -> dict[str, str]:
    """The three sentences of an interval claim: ``subject`` is higher with ``a``, lower, or not resolved."""
    quoted = "{difference:+.3f}" + unit + ", 95 % interval [{low:+.3f}, {high:+.3f}]"
    return {"above zero": f"{subject} is higher with {a} than with {b} ({quoted}).",
            "below zero": f"{subject} is lower with {a} than with {b} ({quoted}).",
            "not resolved": f"{subject} is not resolved between {a} and {b} ({quoted})."}


def _glue_markdown(key: str, text: str) -> None:
    try:
        from IPython.display import Markdown
        from myst_nb import glue
    except ImportError:  # pragma: no cover - book extra not installed
        return
    glue(key, Markdown(text), display=False)


def check(found: Mapping[str, dict], reference: Mapping[str, dict]) -> list[str]:
    """Every claim of ``reference`` whose outcome differs when re-derived from the numbers in ``found``.

    The outcome is re-derived with the claim's rule from the new values of
    the records it rests on (not read from ``found``'s claim record), so a
    re-execution whose numbers reverse a conclusion fails, naming the
    sentence.
    """
    problems = []
    for key, ref in reference.items():
        if ref.get("kind") != CLAIM:
            continue
        evidence = ref.get("evidence", {})
        absent = [k for k in evidence.values() if k not in found]
        if absent:
            problems.append(f"{key}: the numbers {absent} it rests on were not recorded")
            continue
        numbers = {role: _value(found[k]) for role, k in evidence.items()}
        try:
            outcome = outcome_of(ref["rule"], numbers)
        except ValueError as error:
            problems.append(f"{key}: {error}")
            continue
        if outcome != ref["value"]:
            shown = ", ".join(f"{role} {value:.4g}" for role, value in numbers.items())
            problems.append(f"{key}: the claim no longer holds ({ref['value']!r} became {outcome!r} with {shown}); "
                            f"the book says: {ref.get('sentence', '')!r}")
    return problems


def _value(entry):
    return entry["value"] if isinstance(entry, dict) else entry
