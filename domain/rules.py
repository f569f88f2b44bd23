"""What cannot happen in a case: named invariants, each with its source.

Two kinds of checks:

- *recording rules* look at the order in which the ledger learns facts
  (``check_recording``): corrections must name an event of this case, a closed
  case accepts only corrections, a fact cannot be recorded before it happened;
- *timeline rules* look at the facts in business order (``timeline_violations``):
  nothing before the first sick day, no placement before a second-track start,
  relapse only within 28 days, sanctions at most 52 weeks.

Sources are sections of ``shared/domain/poortwachter.md`` (the rules reference).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from domain import events as ev
from domain.plausible import control_character_field, date_problem
from domain.privacy import protected_fields, withheld_fields
from domain.retention import file_status
from domain.sicktime import DAYS_PER_WEEK, MAX_SANCTION_WEEKS, RELAPSE_WINDOW_DAYS
from domain.state import CaseState, CaseStatus, SecondTrackStatus, evolve, initial_state
from domain.timeline import corrected, effective_events

DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    text: str


def _rule(name: str, source: str, text: str) -> Rule:
    return Rule(name, source, text)


DATES_PLAUSIBLE = _rule(
    "dates_plausible",
    "poortwachter.md s8 (the act applies from 2002) and s1 (104 weeks, sanctions up to 52 "
    "more): domain/plausible.py",
    "a first sick day lies between 2002 and two weeks after its report; every other date "
    "of an event between 2002 and three years after the day it was recorded",
)
RECORDED_NOT_IN_FUTURE = _rule(
    "recorded_not_in_future",
    "event sourcing: recorded_at is when the ledger learned the fact",
    "a fact is recorded at or before the ledger's clock (5 minutes of skew); "
    "the clock is the application's (domain.plausible.recorded_at_problem)",
)
TEXT_WITHOUT_CONTROL_CHARACTERS = _rule(
    "text_without_control_characters",
    "interchange format: text is shown and exported as it was written",
    "free text holds no control characters (NUL and the like); tab and line ends are fine",
)
ONE_OPEN_FILE = _rule(
    "one_open_file_per_employee",
    "poortwachter.md s1 (one waiting time of 104 weeks per sickness) and s2 (samentelling: "
    "a relapse within 28 days is the same case)",
    "an employee has at most one open file at an employer: a new report while one is open "
    "belongs in that file; a relapse within 28 days resumes the recovered file",
)
NOT_BEFORE_FIRST_SICK_DAY = _rule(
    "event_not_before_first_sick_day",
    "poortwachter.md, Week arithmetic: day 1 is the first sick day",
    "no event of a case can happen before its first sick day",
)
ONE_SICKNESS_REPORT = _rule(
    "one_sickness_report_per_case",
    "poortwachter.md section 2 (samentelling)",
    "a case opens with one SicknessReported; renewed sickness is SicknessResumed",
)
CASE_OPENS_WITH_REPORT = _rule(
    "case_opens_with_sickness_report",
    "poortwachter.md section 1 (ziekmelding)",
    "the first event of a case is SicknessReported",
)
PLACEMENT_NEEDS_START = _rule(
    "placement_requires_second_track_start",
    "poortwachter.md section 1 (start 2e spoor)",
    "a second-track placement needs a running second-track trajectory",
)
END_NEEDS_START = _rule(
    "second_track_end_requires_start",
    "poortwachter.md section 1 (start 2e spoor)",
    "a second-track trajectory can only end after it started",
)
CLOSED_ONLY_CORRECTIONS = _rule(
    "closed_case_accepts_only_corrections",
    "DEVELOPERS.md, events are facts; issue 2",
    "after CaseClosed only EventCorrected or EventRetracted may be recorded",
)
RELAPSE_WITHIN_28_DAYS = _rule(
    "relapse_within_28_days",
    "art. 7:629 lid 10 BW; poortwachter.md section 2 (samentelling)",
    "sickness resumed less than 28 days after recovery continues the case; later is a new case",
)
RELAPSE_NEEDS_RECOVERY = _rule(
    "relapse_requires_recovery",
    "poortwachter.md section 2 (samentelling)",
    "SicknessResumed needs a preceding RecoveryReported",
)
RECOVERY_NEEDS_SICKNESS = _rule(
    "recovery_requires_sickness",
    "poortwachter.md section 2 (hersteldmelding)",
    "a recovery can only be reported while the employee is sick",
)
PARTIAL_NEEDS_SICKNESS = _rule(
    "partial_resumption_requires_sickness",
    "poortwachter.md section 2 (gedeeltelijke werkhervatting)",
    "partial resumption of work happens while the employee is still partly sick",
)
SANCTION_AT_MOST_52_WEEKS = _rule(
    "sanction_at_most_52_weeks",
    "art. 25 lid 9 WIA; poortwachter.md section 3 (loonsanctie)",
    "a wage sanction ends after the normal end of wage continuation and at most 52 weeks later",
)
SHORTENING_NEEDS_SANCTION = _rule(
    "shortening_requires_sanction",
    "art. 25 lid 12-15 WIA; poortwachter.md section 3 (bekortingsverzoek)",
    "only an imposed sanction can be shortened, and only to an earlier end",
)
EXTENSION_AT_MOST_52_WEEKS = _rule(
    "extension_at_most_52_weeks",
    "poortwachter.md section 3 (vrijwillige verlenging)",
    "the waiting time can be extended voluntarily by at most 52 weeks in all",
)
CORRECTION_SAME_CASE = _rule(
    "correction_names_event_of_same_case",
    "DEVELOPERS.md: a correction names the event it corrects; issue 2",
    "EventCorrected and EventRetracted must name an event recorded in the same case",
)
CORRECTION_FITS_EVENT = _rule(
    "correction_fits_corrected_event",
    "DEVELOPERS.md: a correction names the event it corrects",
    "a correction changes occurred_on and/or data fields of the corrected event type",
)
NOT_RECORDED_BEFORE_OCCURRED = _rule(
    "not_recorded_before_it_occurred",
    "poortwachter.md, bitemporal events: recorded_at is when the ledger learned the fact",
    "an event cannot be recorded before the (Dutch) day on which it occurred",
)
PROTECTED_NOT_CORRECTED = _rule(
    "protected_fields_not_corrected_in_place",
    "poortwachter.md section 5 (AVG); issue 9: erasure must reach every copy",
    "a personal or medical field is corrected by retracting the event and recording it again",
)
NOTHING_WITHHELD_RECORDED = _rule(
    "withheld_values_cannot_be_recorded",
    "issue 9: a withheld placeholder stands for a value the reader may not see",
    "an event cannot be recorded with an erased or medical placeholder in a field",
)
LEGAL_HOLD_ORDER = _rule(
    "legal_hold_placed_then_lifted",
    "poortwachter.md section 5 (retention: longer in a dispute)",
    "a legal hold is placed when none is active and lifted only when one is",
)
ERASURE_BLOCKED_BY_HOLD = _rule(
    "no_erasure_under_legal_hold",
    "poortwachter.md section 5 (retention: longer in a dispute)",
    "personal data of a file under legal hold cannot be erased; lift the hold first",
)
ERASED_ONCE = _rule(
    "personal_data_erased_once",
    "issue 9 (crypto-shredding)",
    "a file's personal data is erased once; its keys no longer exist",
)
ERASURE_ONLY_BY_COMMAND = _rule(
    "personal_data_erased_only_by_erase",
    "issue 9: the erasure event and the destruction of the keys happen together",
    "PersonalDataErased is recorded by `ledger erase`, never imported or posted",
)

SHORTENING_REQUEST_ORDER = _rule(
    "shortening_request_then_decision",
    "art. 25 lid 12-15 WIA; poortwachter.md section 3 (bekortingsverzoek)",
    "a request to shorten needs an imposed sanction and none pending; UWV decides a pending one",
)
EARLY_IVA_WEEKS = _rule(
    "early_iva_in_weeks_3_to_68",
    "poortwachter.md section 1 (early IVA application)",
    "an early IVA application is possible from week 3 until week 68 of sickness",
)
LATE_NOTIFICATION_FINE = _rule(
    "late_notification_fine_at_most_455",
    "poortwachter.md section 1 (late 42-week notification: a fine up to EUR 455; uwv.nl, "
    "rendement.nl)",
    "a fine for a late sickness notification is at most EUR 455",
)
PREGNANCY_LEAVE_ORDER = _rule(
    "pregnancy_leave_started_then_ended",
    "poortwachter.md section 2 (pregnancy leave and samentelling)",
    "pregnancy leave starts when none is under way, ends only when one is, and is expected to "
    "end after it starts",
)
RECOVERY_REPORT_NEEDS_RECOVERY = _rule(
    "recovery_report_to_uwv_requires_recovery",
    "poortwachter.md section 2 (hersteldmelding)",
    "the recovery is reported to UWV once the employee has recovered",
)

RULES: tuple[Rule, ...] = (
    NOT_BEFORE_FIRST_SICK_DAY,
    ONE_SICKNESS_REPORT,
    CASE_OPENS_WITH_REPORT,
    PLACEMENT_NEEDS_START,
    END_NEEDS_START,
    CLOSED_ONLY_CORRECTIONS,
    RELAPSE_WITHIN_28_DAYS,
    RELAPSE_NEEDS_RECOVERY,
    RECOVERY_NEEDS_SICKNESS,
    PARTIAL_NEEDS_SICKNESS,
    SANCTION_AT_MOST_52_WEEKS,
    SHORTENING_NEEDS_SANCTION,
    EXTENSION_AT_MOST_52_WEEKS,
    CORRECTION_SAME_CASE,
    CORRECTION_FITS_EVENT,
    NOT_RECORDED_BEFORE_OCCURRED,
    PROTECTED_NOT_CORRECTED,
    NOTHING_WITHHELD_RECORDED,
    LEGAL_HOLD_ORDER,
    ERASURE_BLOCKED_BY_HOLD,
    ERASED_ONCE,
    ERASURE_ONLY_BY_COMMAND,
    SHORTENING_REQUEST_ORDER,
    EARLY_IVA_WEEKS,
    LATE_NOTIFICATION_FINE,
    PREGNANCY_LEAVE_ORDER,
    RECOVERY_REPORT_NEEDS_RECOVERY,
    DATES_PLAUSIBLE,
    RECORDED_NOT_IN_FUTURE,
    TEXT_WITHOUT_CONTROL_CHARACTERS,
    ONE_OPEN_FILE,
)
MAX_LATE_NOTIFICATION_FINE_EUR = 455  # poortwachter.md s1 (uwv.nl; rendement.nl)
EARLY_IVA_FIRST_WEEK, EARLY_IVA_LAST_WEEK = 3, 68
MAX_LEAVE_DAYS = 366  # a guard against typed years: the leave lasts 16 weeks (WAZO), a few more


@dataclass(frozen=True)
class Violation:
    rule: Rule
    message: str
    field: str
    event_id: Any = None


class RuleViolation(ValueError):
    """An event was refused because it would break a rule of the case."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(f"{violation.field}: {violation.message} [rule {violation.rule.name}]")
        self.violation = violation

    @property
    def rule(self) -> Rule:
        return self.violation.rule

    @property
    def field(self) -> str:
        return self.violation.field


# --- recording rules -------------------------------------------------------


def check_recording(
    history: Sequence[ev.CaseEvent], candidate: ev.CaseEvent, *, closed: bool
) -> None:
    """Raise ``RuleViolation`` if ``candidate`` cannot be recorded after ``history``.

    ``closed`` says whether the case's effective timeline holds a ``CaseClosed``.
    """
    recorded_day = candidate.recorded_at.astimezone(DUTCH_TIME).date()
    _check_plausible(candidate, recorded_day)
    if candidate.occurred_on > recorded_day:
        _raise(
            NOT_RECORDED_BEFORE_OCCURRED,
            f"occurred_on {candidate.occurred_on} is after the day it was recorded "
            f"({recorded_day})",
            "occurred_on",
            candidate,
        )
    for name in withheld_fields(candidate):
        _raise(
            NOTHING_WITHHELD_RECORDED,
            f"{name} holds a withheld placeholder, not a value",
            f"data.{name}",
            candidate,
        )
    if not history:
        if not isinstance(candidate, ev.SicknessReported):
            _raise(
                CASE_OPENS_WITH_REPORT,
                f"case has no events yet; {candidate.type} cannot come first",
                "type",
                candidate,
            )
        return
    if isinstance(candidate, ev.SicknessReported):
        _raise(ONE_SICKNESS_REPORT, "case already has a SicknessReported", "type", candidate)
    if isinstance(candidate, ev.EventCorrected | ev.EventRetracted):
        _check_correction(history, candidate)
    elif isinstance(candidate, ev.RecordKeepingEvent):
        _check_record_keeping(history, candidate)
    elif closed:
        _raise(
            CLOSED_ONLY_CORRECTIONS,
            f"case is closed; {candidate.type} cannot be recorded (retract the CaseClosed first)",
            "type",
            candidate,
        )


def _check_plausible(candidate: ev.CaseEvent, recorded_day: date) -> None:
    """Dates and text an event may not carry at all (domain/plausible.py), checked before
    any rule computes with them: a year-9999 date overflows the week arithmetic."""
    dated = date_problem(candidate, recorded_day)
    if dated is not None:
        _raise(DATES_PLAUSIBLE, dated[1], dated[0], candidate)
    texted = control_character_field(candidate)
    if texted is not None:
        _raise(
            TEXT_WITHOUT_CONTROL_CHARACTERS,
            f"{texted.removeprefix('data.')} holds a control character (such as NUL)",
            texted,
            candidate,
        )


def _check_record_keeping(history: Sequence[ev.CaseEvent], candidate: ev.CaseEvent) -> None:
    file = file_status(history)
    if isinstance(candidate, ev.LegalHoldPlaced) and file.legal_hold:
        _raise(LEGAL_HOLD_ORDER, "the file is already under legal hold", "type", candidate)
    if isinstance(candidate, ev.LegalHoldLifted) and not file.legal_hold:
        _raise(LEGAL_HOLD_ORDER, "the file is not under legal hold", "type", candidate)
    if isinstance(candidate, ev.PersonalDataErased):
        if file.legal_hold:
            _raise(
                ERASURE_BLOCKED_BY_HOLD,
                "the file is under legal hold (LegalHoldPlaced); lift the hold first",
                "type",
                candidate,
            )
        if file.erased_on is not None:
            _raise(ERASED_ONCE, f"already erased on {file.erased_on}", "type", candidate)


def _check_correction(
    history: Sequence[ev.CaseEvent], candidate: ev.EventCorrected | ev.EventRetracted
) -> None:
    target_id = (
        candidate.corrects if isinstance(candidate, ev.EventCorrected) else candidate.retracts
    )
    target_field = "data.corrects" if isinstance(candidate, ev.EventCorrected) else "data.retracts"
    target = next((event for event in history if event.event_id == target_id), None)
    if target is None:
        _raise(
            CORRECTION_SAME_CASE,
            f"event {target_id} is not an event of case {candidate.case_id}",
            target_field,
            candidate,
        )
    assert target is not None
    if isinstance(candidate, ev.EventRetracted):
        _check_retraction(history, candidate, target)
    else:
        _check_corrected_fields(candidate, target)


def _check_retraction(
    history: Sequence[ev.CaseEvent], candidate: ev.EventRetracted, target: ev.CaseEvent
) -> None:
    if isinstance(target, ev.EventRetracted | ev.SicknessReported | ev.RecordKeepingEvent):
        _raise(
            CORRECTION_SAME_CASE,
            f"a {target.type} cannot be retracted"
            + ("; correct it instead" if isinstance(target, ev.SicknessReported) else ""),
            "data.retracts",
            candidate,
        )
    already = any(
        isinstance(e, ev.EventRetracted) and e.retracts == target.event_id for e in history
    )
    if already:
        _raise(
            CORRECTION_SAME_CASE,
            f"event {target.event_id} is already retracted",
            "data.retracts",
            candidate,
        )


def _check_corrected_fields(candidate: ev.EventCorrected, target: ev.CaseEvent) -> None:
    if isinstance(target, ev.EventCorrected | ev.EventRetracted):
        _raise(
            CORRECTION_FITS_EVENT,
            f"a {target.type} cannot be corrected; retract it and record a new one",
            "data.corrects",
            candidate,
        )
    for name in candidate.corrected_data or {}:
        if name in protected_fields(type(target)):
            _raise(
                PROTECTED_NOT_CORRECTED,
                f"{target.type}.{name} is personal or medical data; retract the event and "
                "record it again",
                f"data.corrected_data.{name}",
                candidate,
            )
    if isinstance(target, ev.RecordKeepingEvent):
        _raise(
            CORRECTION_FITS_EVENT,
            f"a {target.type} cannot be corrected; record the opposite fact instead",
            "data.corrects",
            candidate,
        )
    if candidate.corrected_occurred_on is None and not candidate.corrected_data:
        _raise(
            CORRECTION_FITS_EVENT,
            "give corrected_occurred_on and/or corrected_data",
            "data.corrected_data",
            candidate,
        )
    allowed = set(type(target).payload_fields())
    for name in candidate.corrected_data or {}:
        if name not in allowed:
            _raise(
                CORRECTION_FITS_EVENT,
                f"{target.type} has no data field {name!r} (fields: {', '.join(sorted(allowed))})",
                f"data.corrected_data.{name}",
                candidate,
            )
    try:
        corrected(target, candidate)
    except ValidationError as error:
        detail = error.errors()[0]
        where = ".".join(str(part) for part in detail["loc"])
        _raise(
            CORRECTION_FITS_EVENT,
            f"corrected {target.type} is invalid: {where}: {detail['msg']}",
            f"data.corrected_data.{where}",
            candidate,
        )


# --- timeline rules --------------------------------------------------------

TimelineCheck = Callable[[CaseState, Any], str | None]


def _relapse(state: CaseState, event: ev.SicknessResumed) -> str | None:
    if state.status is not CaseStatus.RECOVERED or state.recovered_on is None:
        return None  # relapse_requires_recovery reports this
    gap = state.samentelling_gap_days(event.occurred_on)
    if gap >= RELAPSE_WINDOW_DAYS:
        leave = (event.occurred_on - state.recovered_on).days - gap
        besides = f" besides {leave} days of pregnancy leave" if leave else ""
        return (
            f"sickness resumed {gap} days{besides} after recovery on {state.recovered_on}; "
            f"from {RELAPSE_WINDOW_DAYS} days on it is a new case: report a new sickness"
        )
    return None


def _sanction(state: CaseState, event: ev.WageSanctionImposed) -> str | None:
    normal_end = state.end_of_waiting_time
    latest = state.clock.latest_sanction_end(state.extension_weeks)
    if not normal_end < event.ends_on <= latest:
        return (
            f"ends_on {event.ends_on} must be after the normal end of wage continuation "
            f"{normal_end} and at most {MAX_SANCTION_WEEKS} weeks later ({latest})"
        )
    return None


def _shortened(state: CaseState, event: ev.WageSanctionShortened) -> str | None:
    if state.sanction is None:
        return "no wage sanction has been imposed"
    if event.ends_on >= state.sanction.ends_on:
        return f"ends_on {event.ends_on} must be before the current end {state.sanction.ends_on}"
    return None


def _extension(state: CaseState, event: ev.WaitingTimeExtended) -> str | None:
    total = state.extension_weeks + event.weeks
    if total > MAX_SANCTION_WEEKS:
        return f"extensions would total {total} weeks; at most {MAX_SANCTION_WEEKS}"
    return None


def _shortening_requested(state: CaseState, event: ev.SanctionShorteningRequested) -> str | None:
    if state.sanction is None:
        return "no wage sanction has been imposed"
    if state.shortening_requested_on is not None:
        return f"a request of {state.shortening_requested_on} awaits UWV's decision"
    return None


def _early_iva(state: CaseState, event: ev.EarlyIVAApplied) -> str | None:
    week = -(-state.clock.counted_sick_days(event.occurred_on) // DAYS_PER_WEEK)
    if not EARLY_IVA_FIRST_WEEK <= week <= EARLY_IVA_LAST_WEEK:
        return (
            f"occurred_on {event.occurred_on} is in week {week} of sickness; an early IVA "
            f"application is possible in weeks {EARLY_IVA_FIRST_WEEK}-{EARLY_IVA_LAST_WEEK}"
        )
    return None


def _fine(state: CaseState, event: ev.LateNotificationFined) -> str | None:
    if event.amount_eur > MAX_LATE_NOTIFICATION_FINE_EUR:
        return f"amount_eur {event.amount_eur} is above EUR {MAX_LATE_NOTIFICATION_FINE_EUR}"
    return None


def _leave_started(state: CaseState, event: ev.PregnancyLeaveStarted) -> str | None:
    if state.on_leave_since is not None:
        return f"a pregnancy leave is under way since {state.on_leave_since}"
    if event.expected_end_on <= event.occurred_on:
        return f"expected_end_on {event.expected_end_on} is not after the start"
    if (event.expected_end_on - event.occurred_on).days > MAX_LEAVE_DAYS:
        return (
            f"expected_end_on {event.expected_end_on} is more than a year after the start; "
            "pregnancy and maternity leave lasts 16 weeks, a few more at most"
        )
    return None


def _when(condition: Callable[[CaseState], bool], message: str) -> TimelineCheck:
    def check(state: CaseState, _event: Any) -> str | None:
        return message if condition(state) else None

    return check


_sick = {CaseStatus.OPEN}
TIMELINE_CHECKS: dict[type[ev.CaseEvent], tuple[Rule, TimelineCheck, str]] = {
    ev.SicknessResumed: (RELAPSE_WITHIN_28_DAYS, _relapse, "occurred_on"),
    ev.WageSanctionImposed: (SANCTION_AT_MOST_52_WEEKS, _sanction, "data.ends_on"),
    ev.WageSanctionShortened: (SHORTENING_NEEDS_SANCTION, _shortened, "data.ends_on"),
    ev.WaitingTimeExtended: (EXTENSION_AT_MOST_52_WEEKS, _extension, "data.weeks"),
    ev.SecondTrackPlacement: (
        PLACEMENT_NEEDS_START,
        _when(
            lambda s: s.second_track is not SecondTrackStatus.RUNNING,
            "no second-track trajectory is running on this date (record SecondTrackStarted)",
        ),
        "type",
    ),
    ev.SecondTrackEnded: (
        END_NEEDS_START,
        _when(
            lambda s: s.second_track is SecondTrackStatus.NONE,
            "no second-track trajectory was started before this date",
        ),
        "type",
    ),
    ev.RecoveryReported: (
        RECOVERY_NEEDS_SICKNESS,
        _when(lambda s: s.status not in _sick, "the employee is not sick on this date"),
        "type",
    ),
    ev.WorkPartiallyResumed: (
        PARTIAL_NEEDS_SICKNESS,
        _when(lambda s: s.status not in _sick, "the employee is not sick on this date"),
        "type",
    ),
    ev.SanctionShorteningRequested: (SHORTENING_REQUEST_ORDER, _shortening_requested, "type"),
    ev.SanctionShorteningDecided: (
        SHORTENING_REQUEST_ORDER,
        _when(
            lambda s: s.shortening_requested_on is None,
            "no request to shorten the sanction awaits a decision "
            "(record SanctionShorteningRequested)",
        ),
        "type",
    ),
    ev.EarlyIVAApplied: (EARLY_IVA_WEEKS, _early_iva, "occurred_on"),
    ev.LateNotificationFined: (LATE_NOTIFICATION_FINE, _fine, "data.amount_eur"),
    ev.PregnancyLeaveStarted: (PREGNANCY_LEAVE_ORDER, _leave_started, "data.expected_end_on"),
    ev.PregnancyLeaveEnded: (
        PREGNANCY_LEAVE_ORDER,
        _when(lambda s: s.on_leave_since is None, "no pregnancy leave is under way"),
        "type",
    ),
    ev.RecoveryReportedToUWV: (
        RECOVERY_REPORT_NEEDS_RECOVERY,
        _when(
            lambda s: s.status is not CaseStatus.RECOVERED,
            "the employee has not recovered on this date (record RecoveryReported first)",
        ),
        "type",
    ),
}
RELAPSE_RECOVERY_CHECK = (
    RELAPSE_NEEDS_RECOVERY,
    _when(
        lambda s: s.status is not CaseStatus.RECOVERED,
        "the employee is not recovered on this date",
    ),
    "type",
)


def event_violations(state: CaseState, event: ev.CaseEvent) -> list[Violation]:
    found: list[Violation] = []
    dated = date_problem(event, event.recorded_at.astimezone(DUTCH_TIME).date())
    if dated is not None:  # a correction may have moved a date: the effective event counts
        found.append(Violation(DATES_PLAUSIBLE, dated[1], dated[0], event.event_id))
    if event.occurred_on < state.first_sick_day:
        found.append(
            Violation(
                NOT_BEFORE_FIRST_SICK_DAY,
                f"occurred_on {event.occurred_on} is before the first sick day "
                f"{state.first_sick_day}",
                "occurred_on",
                event.event_id,
            )
        )
    if state.closed_on is not None and event.occurred_on > state.closed_on:
        found.append(
            Violation(
                CLOSED_ONLY_CORRECTIONS,
                f"case was closed on {state.closed_on}; nothing can happen after that",
                "occurred_on",
                event.event_id,
            )
        )
    checks = [TIMELINE_CHECKS.get(type(event))]
    if isinstance(event, ev.SicknessResumed):
        checks.insert(0, RELAPSE_RECOVERY_CHECK)
    for check in checks:
        if check is None:
            continue
        rule, predicate, field = check
        message = predicate(state, event)
        if message is not None:
            found.append(Violation(rule, message, field, event.event_id))
    return found


def timeline_violations(timeline: Sequence[ev.CaseEvent]) -> list[Violation]:
    """Every rule broken by an effective timeline, in business order."""
    report = next(e for e in timeline if isinstance(e, ev.SicknessReported))
    state = initial_state(report)
    found: list[Violation] = []
    for event in timeline:
        found.extend(event_violations(state, event))
        state = evolve(state, event)
    return found


def check_next_event(state: CaseState, candidate: ev.CaseEvent) -> None:
    """Raise ``RuleViolation`` if ``candidate``, coming after every fact in ``state``, breaks a
    rule. Equivalent to ``check_timeline`` when the candidate sorts last in business order."""
    for violation in event_violations(state, candidate):
        raise RuleViolation(violation)


def check_timeline(history: Sequence[ev.CaseEvent], candidate: ev.CaseEvent) -> None:
    """Raise ``RuleViolation`` for the first rule that ``candidate`` newly breaks.

    Violations already present before the candidate (for instance under rules
    that changed since) are not blamed on it.
    """
    after = timeline_violations(effective_events([*history, candidate]))
    if not after:
        return
    before = (
        {(v.rule, v.event_id) for v in timeline_violations(effective_events(history))}
        if history
        else set()
    )
    for violation in after:
        if (violation.rule, violation.event_id) not in before:
            blamed = violation
            if violation.event_id != candidate.event_id:
                blamed = Violation(
                    violation.rule,
                    f"{violation.message} (event {violation.event_id} would break this rule)",
                    violation.field,
                    candidate.event_id,
                )
            raise RuleViolation(blamed)


def _raise(rule: Rule, message: str, field: str, event: ev.CaseEvent) -> None:
    raise RuleViolation(Violation(rule, message, field, event.event_id))
