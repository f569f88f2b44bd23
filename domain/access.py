"""Who may read and record what (rules reference section 5, AVG).

Roles, what each may record and whose cases each may read are data here, so
that the API only asks and the tests can show each role cannot do more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from domain import events as ev


class Role(StrEnum):
    EMPLOYER = "employer"
    CASE_MANAGER = "case_manager"
    OCCUPATIONAL_PHYSICIAN = "occupational_physician"
    UWV_REVIEWER = "uwv_reviewer"
    UWV = "uwv"  # UWV as the body that decides: sanctions, fines, WIA, expert opinions
    ANALYST = "analyst"
    ADMIN = "admin"
    # the sick employee, reading their own file (AVG art. 15, right of access); the
    # token's subject is their employee id and its one employer says where
    EMPLOYEE = "employee"


@dataclass(frozen=True)
class Principal:
    """Who is asking: a subject with one role. ``employers`` limits the cases it may
    touch to those employers; ``None`` means every employer."""

    subject: str
    role: Role
    employers: frozenset[str] | None = None

    def serves(self, employer_id: str) -> bool:
        return self.employers is None or employer_id in self.employers


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str
    # refused as if the case did not exist: a refusal would tell that it exists, and
    # name its employer (a case of an employer the caller does not serve)
    hidden: bool = False

    def __bool__(self) -> bool:
        return self.allowed


SOURCE = "poortwachter.md s5"

# Facts the employer side (employer, and the case manager acting for it) records.
_EMPLOYER_SIDE: frozenset[type[ev.CaseEvent]] = frozenset(
    {
        ev.SicknessReported,
        ev.ReportedToOccupationalPhysician,
        ev.PlanOfApproachAgreed,
        ev.PlanEvaluated,
        ev.CaseManagerAppointed,
        ev.RecoveryReported,
        ev.SicknessResumed,
        ev.UWVNotified,
        ev.RecoveryReportedToUWV,
        ev.PregnancyLeaveStarted,
        ev.PregnancyLeaveEnded,
        ev.FirstYearEvaluationCompleted,
        ev.SecondTrackStarted,
        ev.SecondTrackPlacement,
        ev.SecondTrackEnded,
        ev.ExpertOpinionRequested,
        ev.WrittenWarningIssued,
        ev.WagePaymentSuspended,
        ev.WagePaymentSuspensionLifted,
        ev.WagePaymentStopped,
        ev.WagePaymentResumed,
        ev.FinalEvaluationCompleted,
        ev.LabourExpertReportCompleted,
        ev.EarlyIVAApplied,
        ev.WIAApplied,
        ev.ReintegrationReportSubmitted,
        ev.SanctionShorteningRequested,
        ev.WaitingTimeExtended,
        ev.EmploymentEnded,
        ev.CaseClosed,
    }
)
# Facts the occupational physician records: the medical side and the degree of incapacity.
_PHYSICIAN: frozenset[type[ev.CaseEvent]] = frozenset(
    {
        ev.ReportedToOccupationalPhysician,
        ev.ProblemAnalysisCompleted,
        ev.WorkPartiallyResumed,
        ev.RecoveryReported,
        ev.SicknessResumed,
        ev.PlanEvaluated,
        ev.FinalEvaluationCompleted,
        ev.CurrentOpinionIssued,
        ev.SafetyNetPeriodEstablished,  # a ground only the physician may know (s5)
        ev.MedicalNoteRecorded,
    }
)
# What UWV decides or sends; recorded in the ``uwv`` role, never by an administrator.
UWV_DECISIONS: frozenset[type[ev.CaseEvent]] = frozenset(
    {
        ev.ExpertOpinionIssued,
        ev.WageSanctionImposed,
        ev.WageSanctionShortened,
        ev.SanctionShorteningDecided,
        ev.LateNotificationFined,
        ev.WIAApplicationLetterSent,
        ev.WIADecided,
    }
)
# Record keeping by the administrator. PersonalDataErased is absent on purpose: only
# ``ledger erase`` records it, together with destroying the keys.
_ADMINISTRATOR: frozenset[type[ev.CaseEvent]] = (
    frozenset(ev.CATALOGUE.values())
    - {
        ev.PersonalDataErased,
        ev.MedicalNoteRecorded,  # the physician's own notes
        ev.SafetyNetPeriodEstablished,  # the physician's judgements
        ev.CurrentOpinionIssued,
    }
    - UWV_DECISIONS
)
RECORDS: Mapping[Role, frozenset[type[ev.CaseEvent]]] = {
    Role.EMPLOYER: _EMPLOYER_SIDE,
    Role.CASE_MANAGER: _EMPLOYER_SIDE,
    Role.OCCUPATIONAL_PHYSICIAN: _PHYSICIAN,
    Role.UWV_REVIEWER: frozenset(),
    Role.UWV: UWV_DECISIONS,
    Role.ANALYST: frozenset(),
    Role.ADMIN: _ADMINISTRATOR,  # corrections on behalf of others, legal holds
    Role.EMPLOYEE: frozenset(),  # the employer side records the facts of the file
}
# Only the occupational physician judges the degree of incapacity (s5).
INCAPACITY_FIELD = "incapacity_percent"
# Who the case is about: a correction by anyone but an admin may not change them.
IDENTITY_FIELDS = frozenset({"employer_id", "employee_id"})
# Roles that read the cases of the employers they serve; an employee reads only their own.
READS_CASES: frozenset[Role] = frozenset(Role) - {Role.ANALYST, Role.EMPLOYEE}
# One employer per token: the employer, and the employee (whose id means someone only there)
ONE_EMPLOYER: frozenset[Role] = frozenset({Role.EMPLOYER, Role.EMPLOYEE})
# The longest a grant of access (a bearer token) lasts. One that claims a longer life
# (an older ledger minted up to 100 years) is refused, which revokes it; this also
# bounds how long an entry of the revocation list is needed.
MAX_TOKEN_HOURS = 168.0
READS_ACCESS_LOG: frozenset[Role] = frozenset({Role.UWV_REVIEWER, Role.ADMIN})
EXPORTS: frozenset[Role] = frozenset({Role.UWV_REVIEWER, Role.ADMIN})
# Who posts files: an admin, and UWV its own decisions; each line is still judged against
# what the caller may record (a whole export is restored with ``ledger import``).
IMPORTS: frozenset[Role] = frozenset({Role.ADMIN, Role.UWV})
READS_STATISTICS: frozenset[Role] = frozenset(Role) - {Role.EMPLOYEE}
# Medical data only reachable by the occupational physician (s5).
READS_MEDICAL: frozenset[Role] = frozenset({Role.OCCUPATIONAL_PHYSICIAN})

_ALLOWED = Decision(True, "allowed", SOURCE)


OWN_FILE = "AVG art. 15 (right of access) and poortwachter.md s5"


def may_read_case(principal: Principal, employer_id: str, *, own_file: bool = False) -> Decision:
    """Whether ``principal`` may read a case of ``employer_id``; ``own_file``: the case is
    about the caller (the application knows, from the blind index)."""
    if principal.role is Role.EMPLOYEE:
        if own_file and principal.serves(employer_id):
            return _ALLOWED
        return Decision(False, "an employee reads only their own file", OWN_FILE, hidden=True)
    if principal.role not in READS_CASES:
        return Decision(
            False, "analysts see statistics only, never a case or personal data", SOURCE
        )
    if not principal.serves(employer_id):
        return Decision(
            False,
            f"{principal.role.value} {principal.subject} does not serve employer {employer_id}",
            SOURCE,
            hidden=True,
        )
    return _ALLOWED


def may_record_at_all(principal: Principal, kind: str) -> Decision:
    """Whether the role records any event, asked to record one of ``kind`` (judged before
    a case is looked up, so that a role that records nothing learns nothing of which
    cases exist)."""
    if not RECORDS[principal.role]:
        reason = f"a {principal.role.value} may not record {kind}: it records no events"
        return Decision(False, reason, SOURCE)
    return _ALLOWED


def may_record_kind(principal: Principal, event_class: type[ev.CaseEvent]) -> Decision:
    """Whether the role records this kind of event at all, whatever the case."""
    if event_class not in RECORDS[principal.role]:
        return Decision(
            False, f"a {principal.role.value} may not record {event_class.__name__}", SOURCE
        )
    return _ALLOWED


def may_record(
    principal: Principal,
    event_class: type[ev.CaseEvent],
    employer_id: str,
    data: Mapping[str, Any],
    corrected_class: type[ev.CaseEvent] | None = None,
) -> Decision:
    """Whether ``principal`` may record an event of ``event_class`` for a case of
    ``employer_id``. A correction or retraction is allowed to whoever may record the
    kind of event it corrects (``corrected_class``)."""
    if not principal.serves(employer_id):
        return may_read_case(principal, employer_id)
    target = corrected_class if event_class in ev.CORRECTION_TYPES else event_class
    if target is None:
        return Decision(
            False, f"a {principal.role.value} may not record {event_class.__name__}", SOURCE
        )
    kind = may_record_kind(principal, target)
    if not kind:
        return Decision(False, kind.reason + (" (nor correct it)" if corrected_class else ""),
                        SOURCE)  # fmt: skip
    if principal.role is Role.ADMIN:
        return _ALLOWED
    corrected = data.get("corrected_data")
    fields = set(data) | (set(corrected) if isinstance(corrected, dict) else set())
    if IDENTITY_FIELDS & fields - set(data):
        return Decision(
            False,
            "a correction may not move a case to another employer or employee "
            f"({', '.join(sorted(IDENTITY_FIELDS & fields))}); an admin can",
            SOURCE,
        )
    if INCAPACITY_FIELD in fields and principal.role is not Role.OCCUPATIONAL_PHYSICIAN:
        return Decision(
            False,
            "only the occupational physician records the degree of incapacity "
            f"({INCAPACITY_FIELD})",
            SOURCE,
        )
    return _ALLOWED


def may_read_medical(principal: Principal) -> Decision:
    if principal.role not in READS_MEDICAL:
        return Decision(False, "medical data is for the occupational physician alone", SOURCE)
    return _ALLOWED


def may_export(principal: Principal) -> Decision:
    if principal.role not in EXPORTS:
        return Decision(False, "exports are for UWV reviewers and admins", SOURCE)
    if principal.employers is not None:
        return Decision(False, "an export holds every employer's cases; this token is scoped",
                        SOURCE)  # fmt: skip
    return _ALLOWED


def may_list_cases(principal: Principal) -> Decision:
    """Lists of files (and their counts) for the roles that read cases; a scoped token
    sees its employers' files only (the list is filtered by ``principal.employers``)."""
    if principal.role not in READS_CASES:
        return Decision(False, "this role reads no case list: statistics only", SOURCE)
    return _ALLOWED


def may_read_operations(principal: Principal) -> Decision:
    """Metrics and readiness details: counts across every employer, so admins only."""
    if principal.role is not Role.ADMIN:
        return Decision(False, "operational metrics are for admins", SOURCE)
    return _ALLOWED


def may_read_access_log(principal: Principal, employer_id: str) -> Decision:
    if principal.role not in READS_ACCESS_LOG:
        return Decision(False, "the access log is for UWV reviewers and admins", SOURCE)
    return may_read_case(principal, employer_id)


def may_read_statistics(principal: Principal, about_employer: str | None) -> Decision:
    """Population statistics for unscoped roles; an employer's own KPIs for its own."""
    if principal.role not in READS_STATISTICS:
        return Decision(False, "an employee reads their own file, not statistics", OWN_FILE)
    if about_employer is not None:
        if not principal.serves(about_employer):
            return Decision(False, f"{principal.subject} does not serve employer "
                                   f"{about_employer}", SOURCE)  # fmt: skip
        return _ALLOWED
    if principal.employers is not None:
        return Decision(False, "population statistics are not scoped to one employer", SOURCE)
    return _ALLOWED


def default_employer(principal: Principal, employer: str | None) -> str | None:
    """The employer a list is about: the one asked for, or a token's only employer."""
    if employer is None and principal.employers is not None and len(principal.employers) == 1:
        return next(iter(principal.employers))
    return employer


def may_list_deadlines(principal: Principal, employer: str | None) -> Decision:
    """Deadline lists span cases: unscoped roles may list any; scoped ones only the
    employers they serve, named (``default_employer`` fills in a single one)."""
    if principal.role not in READS_CASES:
        return Decision(False, "analysts see statistics only", SOURCE)
    if principal.employers is not None and (employer is None or not principal.serves(employer)):
        return Decision(
            False,
            f"{principal.role.value} {principal.subject} may list deadlines only of the "
            f"employers it serves ({', '.join(sorted(principal.employers))}): pass employer=",
            SOURCE,
        )
    return _ALLOWED


SMALL_GROUP = 10  # the smallest group an analyst may see (no person singled out)


def suppress_below(principal: Principal) -> int | None:
    return SMALL_GROUP if principal.role is Role.ANALYST else None


# Analysts see statistics as published at the end of each month, never as of any day
# (issue 19): two reports a day apart differ by what happened that day, which in a small
# group is one person's record, however large the groups shown. Data, not code: a
# weekly publication would be ``"week"``.
PUBLICATION_PERIOD = "month"


def published_as_of(principal: Principal, on: date) -> date:
    """The day a caller's statistics are computed on: for analysts the last day of the
    last publication period that ended by ``on``; for everyone else ``on`` itself."""
    if suppress_below(principal) is None:
        return on
    if PUBLICATION_PERIOD == "week":
        return on - timedelta(days=(on.isoweekday() % 7))  # the Sunday on or before
    if (on + timedelta(days=1)).day == 1:
        return on
    return on.replace(day=1) - timedelta(days=1)


def actor_role(role: Role) -> ev.ActorRole:
    """The role an event records for who recorded it."""
    return {
        Role.EMPLOYER: ev.ActorRole.EMPLOYER,
        Role.CASE_MANAGER: ev.ActorRole.CASE_MANAGER,
        Role.OCCUPATIONAL_PHYSICIAN: ev.ActorRole.OCCUPATIONAL_PHYSICIAN,
        Role.UWV_REVIEWER: ev.ActorRole.UWV,
        Role.UWV: ev.ActorRole.UWV,
        Role.ANALYST: ev.ActorRole.SYSTEM,
        Role.ADMIN: ev.ActorRole.SYSTEM,
        Role.EMPLOYEE: ev.ActorRole.SYSTEM,  # never used: an employee records nothing
    }[role]
