"""The scenario format: shipped suites load; invalid files fail with file:line and a clear reason."""

from __future__ import annotations

import datetime as dt

import pytest

from evals.loader import SuiteError, load_suite, load_suites, suite_files
from evals.scenario import AnyOf, Regex, parse_duration

VALID = """\
suite: demo
defaults:
  customer: {channel: sms, phone: "+18135550177"}
  expect:
    tool_calls: {required: [inventory]}
scenarios:
  - id: one
    title: first
    turns:
      - say: any tacomas?
        expect:
          require: [Tacoma, {regex: '\\$\\d'}, {any: [a, b]}]
  - id: two
    title: second
    customer: {channel: chat}
    turns:
      - say: hi
    expect:
      tool_calls: {required: [knowledge]}
"""


def test_valid_suite_loads_with_defaults_merged(suite_file) -> None:
    suite = load_suite(suite_file(VALID))
    one, two = suite.scenarios
    assert suite.suite == "demo" and one.key == "demo/one"
    assert one.customer.phone == "+18135550177" and one.customer.channel == "sms"
    assert two.customer.channel == "chat" and two.customer.phone == "+18135550177"  # deep merge
    assert one.expect.tool_calls.required == ["inventory"]
    assert two.expect.tool_calls.required == ["knowledge"]  # lists are replaced, not appended
    req = one.turns[0].expect.require
    assert req[0] == "Tacoma" and isinstance(req[1], Regex) and isinstance(req[2], AnyOf)
    assert one.line == 7 and two.line == 13
    # quality bars are on by default
    assert one.expect.prices_match_inventory and one.expect.no_message_after_opt_out


def _problems(path) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return [str(p) for p in info.value.problems]


def test_yaml_syntax_error_names_the_line(suite_file) -> None:
    path = suite_file("suite: x\nscenarios:\n  - id: a\n    title: [unclosed\n")
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:") and "not valid YAML" in problem


def test_unknown_expectation_key_is_an_error_on_its_line(suite_file) -> None:
    path = suite_file(
        """\
suite: x
scenarios:
  - id: a
    title: t
    customer: {phone: "+18135550177"}
    turns:
      - say: hi
    expect:
      appointmnets:
        - {kind: test_drive}
"""
    )
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}:9:")
    assert "scenario 'a'" in problem and "expect.appointmnets" in problem and "Extra inputs" in problem


def test_bad_regex_and_bad_duration_and_missing_phone(suite_file) -> None:
    path = suite_file(
        """\
suite: x
scenarios:
  - id: bad-regex
    title: t
    customer: {channel: chat}
    turns:
      - say: hi
        expect:
          forbid: [{regex: '(unclosed'}]
  - id: bad-after
    title: t
    customer: {channel: chat}
    turns:
      - say: hi
        after: soonish
  - id: sms-without-phone
    title: t
    turns:
      - say: hi
"""
    )
    problems = _problems(path)
    assert any(p.startswith(f"{path}:9:") and "bad regex" in p for p in problems), problems
    assert any(p.startswith(f"{path}:15:") and "not a duration" in p for p in problems), problems
    assert any("sms-without-phone" in p and "needs customer.phone" in p for p in problems), problems


def test_duplicate_ids_and_missing_customer_side(suite_file) -> None:
    path = suite_file(
        """\
suite: x
scenarios:
  - id: a
    title: t
    customer: {channel: chat}
    turns: [{say: hi}]
  - id: a
    title: again
    customer: {channel: chat}
    turns: [{say: hi}]
  - id: b
    title: nothing to say
"""
    )
    problems = _problems(path)
    assert any(":7:" in p and "duplicate id" in p for p in problems), problems
    assert any("scenario 'b'" in p and "scripted `turns`" in p for p in problems), problems


def test_a_lead_turn_is_validated_as_a_lead(suite_file) -> None:
    path = suite_file(
        """\
suite: x
scenarios:
  - id: a
    title: t
    turns:
      - lead: {full_name: Nobody, comments: no way to reach me}
"""
    )
    (problem,) = _problems(path)
    assert "scenario 'a'" in problem and "turns.0" in problem


def test_top_level_problems(suite_file) -> None:
    assert "unknown key 'scenario'" in _problems(suite_file("suite: x\nscenario: []\nscenarios: []\n"))[0]
    assert "non-empty list" in _problems(suite_file("suite: x\nscenarios: []\n"))[-1]
    with pytest.raises(SuiteError, match="no suite named 'nope'"):
        suite_files(["nope"])


def test_parse_duration() -> None:
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("1d2h") == dt.timedelta(days=1, hours=2)
    assert parse_duration(30) == dt.timedelta(seconds=30)
    with pytest.raises(ValueError):
        parse_duration("2 fortnights")


def test_shipped_suites_cover_the_issue() -> None:
    suites = load_suites()
    names = {s.suite for s in suites}
    assert {
        "inventory",
        "test_drives",
        "service",
        "hours_faq",
        "trade_in",
        "financing",
        "consent",
        "handoff",
        "cross_channel",
        "lead_followup",
        "adversarial",
    } <= names
    scenarios = [x for s in suites for x in s.scenarios]
    scripted = [x for x in scenarios if x.turns]
    assert len(scripted) >= 60
    for x in scenarios:
        e = x.expect
        turn_checks = any(t.expect.require or t.expect.forbid or t.expect.reply != "any" for t in x.turns)
        state_checks = (
            e.appointments
            or e.appointment_count is not None
            or e.consent
            or e.handoff is not None
            or e.profile
            or e.stage
            or e.require
            or e.forbid
            or e.tool_calls
            or e.rubric
            or e.one_customer
            or e.max_outbound
        )
        assert turn_checks or state_checks, f"{x.key} checks nothing beyond the defaults"
