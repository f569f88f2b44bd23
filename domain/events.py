"""The event catalogue: one class per fact of a sickness-absence case.

Every event is bitemporal: ``occurred_on`` is the business date on which the fact
happened, ``timestamp`` (exposed as ``recorded_at``) is when the ledger learned it.
Events are never edited; a mistake is corrected by :class:`EventCorrected` or
:class:`EventRetracted`, which name the event they correct, who did it and why.

No event carries a diagnosis or the nature or cause of the illness
(rules reference section 5, AVG: the employer may never record it).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from uuid import UUID

from eventsourcing.domain import CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

if TYPE_CHECKING:
    from domain.case import Case

# An opaque reference to a person or organisation in a source system. It is not
# free text: no spaces, so that names and notes cannot be smuggled in.
Reference = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")
]
Percent = Annotated[int, Field(ge=1, le=100)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
# What the occupational physician writes down; only that role can read it back.
MedicalText = Annotated[
    str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)
]


class Withheld(BaseModel):
    """A protected value the reader does not get: its key was destroyed (``erased``,
    crypto-shredding), it is medical and the reader is not the occupational physician,
    or the reader never opens protected values (``sealed``: the read models).

    Only reading produces it; an event that carries one cannot be recorded.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    withheld: Literal["erased", "medical", "sealed"]


class ActorRole(StrEnum):
    """Who recorded a fact."""

    EMPLOYER = "employer"
    EMPLOYEE = "employee"
    CASE_MANAGER = "case_manager"
    OCCUPATIONAL_PHYSICIAN = "occupational_physician"
    UWV = "uwv"
    REINTEGRATION_PROVIDER = "reintegration_provider"
    SYSTEM = "system"


class Actor(BaseModel):
    """The person or system that recorded an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: ActorRole
    id: Reference


class Goal(StrEnum):
    """Re-integration goal of the plan of approach (*plan van aanpak*)."""

    OWN_WORK = "own_work"
    ADAPTED_OWN_WORK = "adapted_own_work"
    OTHER_WORK_OWN_EMPLOYER = "other_work_own_employer"
    SECOND_TRACK = "second_track"


class Prognosis(StrEnum):
    """The occupational physician's expectation of return (no medical detail)."""

    FULL_RETURN = "full_return"
    PARTIAL_RETURN = "partial_return"
    NO_RETURN = "no_return"
    UNCLEAR = "unclear"


class NoSecondTrackReason(StrEnum):
    """Why a first-year evaluation found no second track needed (Werkwijzer Poortwachter)."""

    STRUCTURAL_RETURN_WITHIN_3_MONTHS = "structural_return_within_3_months"
    STATE_PENSION_WITHIN_1_YEAR = "state_pension_within_1_year"
    ALREADY_RETURNED = "already_returned"
    OTHER = "other"


class SecondTrackEndReason(StrEnum):
    PLACEMENT = "placement"
    RETURN_TO_OWN_EMPLOYER = "return_to_own_employer"
    NO_PROSPECT = "no_prospect"
    EMPLOYMENT_ENDED = "employment_ended"
    OTHER = "other"


class Requester(StrEnum):
    EMPLOYER = "employer"
    EMPLOYEE = "employee"


class ExpertQuestion(StrEnum):
    """The subject of a *deskundigenoordeel* (rules reference section 3)."""

    FITNESS_FOR_OWN_WORK = "fitness_for_own_work"
    SUITABLE_WORK = "suitable_work"
    EMPLOYER_EFFORTS = "employer_efforts"
    EMPLOYEE_EFFORTS = "employee_efforts"
    SECOND_TRACK = "second_track"


class ExpertConclusion(StrEnum):
    REQUESTER_UPHELD = "requester_upheld"
    REQUESTER_NOT_UPHELD = "requester_not_upheld"
    PARTLY_UPHELD = "partly_upheld"


class StopReason(StrEnum):
    """Grounds for *stopzetting* of wages, art. 7:629 lid 3 BW."""

    HINDERS_RECOVERY = "hinders_recovery"
    REFUSES_SUITABLE_WORK = "refuses_suitable_work"
    REFUSES_PLAN_COOPERATION = "refuses_plan_cooperation"
    REFUSES_WIA_APPLICATION = "refuses_wia_application"
    OTHER = "other"


class SanctionKind(StrEnum):
    """*Loonsanctie*: for insufficient efforts, or for an incomplete or late RIV."""

    SUBSTANTIVE = "substantive"
    ADMINISTRATIVE = "administrative"


class WIAOutcome(StrEnum):
    NO_BENEFIT = "no_benefit"
    WGA = "wga"
    IVA = "iva"
    REFUSED = "refused"


class EmploymentEndReason(StrEnum):
    DISMISSAL = "dismissal"
    SICK_OUT_OF_SERVICE = "sick_out_of_service"
    END_OF_CONTRACT = "end_of_contract"
    RESIGNATION = "resignation"
    OTHER = "other"


class CaseOutcome(StrEnum):
    RECOVERED = "recovered"
    RETURNED_OWN_WORK = "returned_own_work"
    RETURNED_ADAPTED_WORK = "returned_adapted_work"
    RETURNED_OTHER_WORK_OWN_EMPLOYER = "returned_other_work_own_employer"
    PLACED_OTHER_EMPLOYER = "placed_other_employer"
    EMPLOYMENT_ENDED = "employment_ended"
    WIA_BENEFIT = "wia_benefit"
    END_OF_WAITING_TIME = "end_of_waiting_time"
    OTHER = "other"


# Fields every event carries; everything else is the event's ``data``.
ENVELOPE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "event_id",
        "occurred_on",
        "actor",
        "subject_id",  # set by the ledger, never by a writer (see SicknessReported)
    }
)


class CaseEvent(BaseModel, CanMutateAggregate[UUID]):
    """Base of every fact recorded about a case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    timestamp: AwareDatetime
    event_id: UUID
    occurred_on: date
    actor: Actor

    @property
    def case_id(self) -> UUID:
        return self.originator_id

    @property
    def recorded_at(self) -> datetime:
        return self.timestamp

    @property
    def type(self) -> str:
        return type(self).__name__

    @classmethod
    def payload_fields(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in ENVELOPE_FIELDS]

    def payload(self) -> dict[str, Any]:
        """The event's ``data`` as JSON-ready values."""
        return self.model_dump(mode="json", include=set(self.payload_fields()))

    def apply(self, aggregate: Case) -> None:
        aggregate.remember(self)


class SicknessReported(CaseEvent, CanInitAggregate[UUID]):
    """The employee reported sick - *ziekmelding*. Opens the case.

    Version 2 adds ``subject_id``: the ledger's random pseudonym of the employee,
    which names the employee's keys and outlives their erasure (issue 9).
    """

    class_version: ClassVar[int] = 2

    originator_topic: str
    employee_id: Reference | Withheld
    subject_id: UUID | None = None
    employer_id: Reference
    first_sick_day: date
    incapacity_percent: Percent = 100
    sector: Reference | None = None
    expected_duration_weeks: Annotated[int, Field(ge=0, le=104)] | None = None
    # Whether a safety-net provision applies, never which one (AVG, section 5).
    safety_net: bool = False
    workplace_accident: bool = False
    liable_third_party: bool = False

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Nothing to move: a report stored before version 2 has no subject (``None``), and
        its personal data was stored in plain text. ``subject_id`` is never interchange data."""


class ReportedToOccupationalPhysician(CaseEvent):
    """The case was reported to the occupational physician - *ziekmelding bij de bedrijfsarts*."""

    occupational_physician_id: Reference | None = None


class ProblemAnalysisCompleted(CaseEvent):
    """The occupational physician completed the problem analysis - *probleemanalyse*."""

    occupational_physician_id: Reference | None = None
    prognosis: Prognosis | None = None


class PlanOfApproachAgreed(CaseEvent):
    """Employer and employee agreed the plan of approach - *plan van aanpak*."""

    goal: Goal
    case_manager_id: Reference | None = None


class PlanAdjustment(StrEnum):
    """What an evaluation changed in the plan of approach (*bijstelling*)."""

    NONE = "none"
    ACTIVITIES = "activities"
    GOAL = "goal"


class PlanEvaluated(CaseEvent):
    """The plan of approach was evaluated and possibly adjusted - *evaluatie/bijstelling*.

    Version 2 says what was adjusted; version 1 only said whether (``adjusted``).
    """

    class_version: ClassVar[int] = 2

    adjustment: PlanAdjustment = PlanAdjustment.NONE
    goal: Goal | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """``adjusted: bool`` became ``adjustment``: a new goal means the goal changed."""
        if "adjusted" not in state:
            return
        adjusted = TypeAdapter(bool).validate_python(state.pop("adjusted"))  # "false" is False
        if not adjusted:
            state["adjustment"] = PlanAdjustment.NONE.value
        elif state.get("goal") is not None:
            state["adjustment"] = PlanAdjustment.GOAL.value
        else:
            state["adjustment"] = PlanAdjustment.ACTIVITIES.value


class CaseManagerAppointed(CaseEvent):
    """A case manager was appointed - *casemanager*."""

    case_manager_id: Reference


class WorkPartiallyResumed(CaseEvent):
    """Partial return to work - *gedeeltelijke werkhervatting*. The clock keeps running."""

    incapacity_percent: Annotated[int, Field(ge=1, le=99)]


class RecoveryReported(CaseEvent):
    """Recovery report - *hersteldmelding*; ``occurred_on`` is the first fully fit day."""


class SicknessResumed(CaseEvent):
    """Sick again within 28 days of recovery - *samentelling*: the same case continues."""

    incapacity_percent: Percent = 100


class UWVNotified(CaseEvent):
    """Notification of the sickness to UWV - *42e-weeksmelding*, or the earlier
    *ziekmelding bij UWV* of a safety-net or pregnancy case (rules reference s1)."""


class RecoveryReportedToUWV(CaseEvent):
    """The employer told UWV the employee recovered - *hersteldmelding aan UWV*."""


class SafetyNetPeriod(StrEnum):
    """How soon UWV must be told of a safety-net case (rules reference s1): the period,
    never the provision behind it (s5)."""

    WITHIN_SIX_WEEKS = "within_six_weeks"  # e.g. sick through pregnancy, before the leave
    BY_FOURTH_SICK_DAY = "by_fourth_sick_day"  # e.g. in the flexibilisation period


class SafetyNetPeriodEstablished(CaseEvent):
    """The occupational physician established that a safety-net provision with a shorter
    UWV notification period applies (pregnancy-related sickness, say), without saying
    which - *vangnet, kortere meldtermijn*. The ground stays with the physician (s5)."""

    period: SafetyNetPeriod


class PregnancyLeaveStarted(CaseEvent):
    """Pregnancy and maternity leave began - *zwangerschaps- en bevallingsverlof*. The leave
    counts neither as sick time nor toward the 28-day gap of samentelling."""

    expected_end_on: date


class PregnancyLeaveEnded(CaseEvent):
    """Pregnancy and maternity leave ended; ``occurred_on`` is the first day after it -
    *einde bevallingsverlof*."""


class FirstYearEvaluationCompleted(CaseEvent):
    """First-year evaluation - *eerstejaarsevaluatie*."""

    second_track_needed: bool
    no_second_track_reason: NoSecondTrackReason | None = None


class SecondTrackStarted(CaseEvent):
    """Re-integration with another employer started - *2e spoor*."""

    provider_id: Reference | None = None


class SecondTrackPlacement(CaseEvent):
    """The employee was placed with another employer - *plaatsing 2e spoor*."""

    new_employer_id: Reference
    provider_id: Reference | None = None


class SecondTrackEnded(CaseEvent):
    """The second-track trajectory ended - *einde 2e spoor*."""

    reason: SecondTrackEndReason


class ExpertOpinionRequested(CaseEvent):
    """An expert opinion was requested from UWV - *deskundigenoordeel aangevraagd*."""

    requested_by: Requester
    question: ExpertQuestion


class ExpertOpinionIssued(CaseEvent):
    """UWV issued the expert opinion - *deskundigenoordeel*."""

    question: ExpertQuestion
    conclusion: ExpertConclusion


class WarningSubject(StrEnum):
    """What a written warning is about: the grounds of art. 7:629 lid 3 and 6 BW."""

    CONTROL_RULES = "control_rules"  # lid 6: opschorting
    OBSTRUCTION = "obstruction"  # lid 3: stopzetting


class WrittenWarningIssued(CaseEvent):
    """The employer warned the employee in writing before withholding wages -
    *schriftelijke waarschuwing*."""

    about: WarningSubject


class WagePaymentSuspended(CaseEvent):
    """Wages withheld until control rules are followed - *opschorting* (art. 7:629 lid 6 BW)."""

    reason: Reason | Withheld


class WagePaymentSuspensionLifted(CaseEvent):
    """The suspension ended; withheld wages are paid out - *einde opschorting*."""


class WagePaymentStopped(CaseEvent):
    """No wage right while the employee obstructs - *stopzetting* (art. 7:629 lid 3 BW)."""

    reason: StopReason


class WagePaymentResumed(CaseEvent):
    """Wage payment resumed after a stop - *einde stopzetting*."""


class FinalEvaluationCompleted(CaseEvent):
    """Final evaluation with the physician's current opinion - *eindevaluatie*."""


class ReintegrationReportSubmitted(CaseEvent):
    """The re-integration report was submitted to UWV - *re-integratieverslag (RIV)*.

    Version 2 tells the report from the WIA application (:class:`WIAApplied`): version 1
    meant both at once, so an old report is upcast with ``with_wia_application``.
    """

    class_version: ClassVar[int] = 2

    with_wia_application: bool = False

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A version-1 report was "WIA application with the re-integration report"."""
        state.setdefault("with_wia_application", True)


class WIAApplied(CaseEvent):
    """The employee applied for a WIA benefit, by week 93 - *WIA-aanvraag*."""


class WIAApplicationLetterSent(CaseEvent):
    """UWV's letter inviting the WIA application, about week 88 - *brief WIA-aanvraag*."""


class EarlyIVAApplied(CaseEvent):
    """An early application for the IVA benefit, possible from week 3 to week 68 -
    *vervroegde IVA-aanvraag*."""


class CurrentOpinionIssued(CaseEvent):
    """The occupational physician's current opinion for the final evaluation and the RIV -
    *actueel oordeel bedrijfsarts*. No medical detail: the prognosis only."""

    occupational_physician_id: Reference | None = None
    prognosis: Prognosis | None = None


class LabourExpertReportCompleted(CaseEvent):
    """A labour expert judged the work the employee can do, function by function -
    *arbeidsdeskundig rapport*."""

    labour_expert_id: Reference | None = None


class WageSanctionImposed(CaseEvent):
    """UWV extended wage continuation - *loonsanctie* (art. 25 lid 9 WIA)."""

    kind: SanctionKind
    ends_on: date


class WageSanctionShortened(CaseEvent):
    """UWV shortened the sanction after repair - *bekorting* (art. 25 lid 12-15 WIA)."""

    ends_on: date


class SanctionShorteningRequested(CaseEvent):
    """Having repaired every shortcoming, the employer asked UWV to shorten the sanction -
    *bekortingsverzoek* (art. 25 lid 12-15 WIA)."""


class SanctionShorteningDecided(CaseEvent):
    """UWV decided on the request to shorten the sanction - *beslissing op het
    bekortingsverzoek*; a positive decision ends the sanction 6 weeks later."""

    granted: bool


class LateNotificationFined(CaseEvent):
    """UWV fined the employer for a late sickness notification - *boete te late
    ziekmelding*. A fine, never a wage sanction."""

    amount_eur: Annotated[int, Field(ge=1)]


class WaitingTimeExtended(CaseEvent):
    """Employer and employee extended the waiting time - *vrijwillige verlenging*."""

    weeks: Annotated[int, Field(ge=1, le=52)]


class WIADecided(CaseEvent):
    """UWV decided on the WIA benefit - *WIA-beslissing*."""

    outcome: WIAOutcome


class EmploymentEnded(CaseEvent):
    """The employment with the original employer ended - *einde dienstverband*."""

    reason: EmploymentEndReason


class CaseClosed(CaseEvent):
    """The case was closed - *dossier gesloten*. Only corrections may follow."""

    outcome: CaseOutcome


class EventCorrected(CaseEvent):
    """A recorded event was wrong; this states what it should have said - *correctie*."""

    corrects: UUID
    reason: Reason | Withheld
    corrected_occurred_on: date | None = None
    corrected_data: dict[str, Any] | None = None


class EventRetracted(CaseEvent):
    """A recorded event should never have been recorded - *intrekking*."""

    retracts: UUID
    reason: Reason | Withheld


class MedicalNoteRecorded(CaseEvent):
    """The occupational physician's note of a consultation - *spreekuurverslag*.

    Medical data (rules reference section 5): encrypted with the employee's medical
    key, readable only in the occupational-physician role.
    """

    note: MedicalText | Withheld


class RecordKeepingEvent(CaseEvent):
    """A fact about the file rather than about the sickness: it never changes the case's
    state, deadlines or statistics, and may be recorded on a closed case."""


class ErasureGround(StrEnum):
    """Why personal data was erased (rules reference section 5, AVG)."""

    RETENTION_ENDED = "retention_ended"  # the retention period of section 5 ended
    ERASURE_REQUEST = "erasure_request"  # art. 17 AVG, request of the employee


class PersonalDataErased(RecordKeepingEvent):
    """The file's keys were destroyed - *vernietiging persoonsgegevens*.

    Who and when are the actor and ``recorded_at``; why is the ``ground`` with a
    ``reference`` (a request number, or the retention rule and day). No free text:
    it would outlive the erasure in plain text.
    """

    ground: ErasureGround
    reference: Reference


class LegalHoldPlaced(RecordKeepingEvent):
    """A dispute keeps the file beyond its retention period - *bewaren wegens geschil*."""

    reason: Reason | Withheld


class LegalHoldLifted(RecordKeepingEvent):
    """The dispute ended; the retention period applies again - *einde bewaarplicht*."""

    reason: Reason | Withheld


def upcast(event_class: type[CaseEvent], state: dict[str, Any], from_version: int) -> None:
    """Bring a stored or imported ``state`` of ``from_version`` to the class's version."""
    while from_version < event_class.class_version:
        getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1


CORRECTION_TYPES: tuple[type[CaseEvent], ...] = (EventCorrected, EventRetracted)

CATALOGUE: dict[str, type[CaseEvent]] = {
    cls.__name__: cls
    for cls in (
        SicknessReported,
        ReportedToOccupationalPhysician,
        ProblemAnalysisCompleted,
        PlanOfApproachAgreed,
        PlanEvaluated,
        CaseManagerAppointed,
        WorkPartiallyResumed,
        RecoveryReported,
        SicknessResumed,
        UWVNotified,
        RecoveryReportedToUWV,
        SafetyNetPeriodEstablished,
        PregnancyLeaveStarted,
        PregnancyLeaveEnded,
        FirstYearEvaluationCompleted,
        SecondTrackStarted,
        SecondTrackPlacement,
        SecondTrackEnded,
        ExpertOpinionRequested,
        ExpertOpinionIssued,
        WrittenWarningIssued,
        WagePaymentSuspended,
        WagePaymentSuspensionLifted,
        WagePaymentStopped,
        WagePaymentResumed,
        EarlyIVAApplied,
        CurrentOpinionIssued,
        LabourExpertReportCompleted,
        FinalEvaluationCompleted,
        WIAApplicationLetterSent,
        WIAApplied,
        ReintegrationReportSubmitted,
        WageSanctionImposed,
        WageSanctionShortened,
        SanctionShorteningRequested,
        SanctionShorteningDecided,
        LateNotificationFined,
        WaitingTimeExtended,
        WIADecided,
        EmploymentEnded,
        CaseClosed,
        EventCorrected,
        EventRetracted,
        MedicalNoteRecorded,
        PersonalDataErased,
        LegalHoldPlaced,
        LegalHoldLifted,
    )
}

# the stored topics of two events the log is searched for (reports, erasures)
REPORT_TOPIC = get_topic(SicknessReported)
ERASED_TOPIC = get_topic(PersonalDataErased)
