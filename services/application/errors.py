"""What a use case can refuse, as exceptions that say what was wrong and how to fix it.

They carry no HTTP status and no exit code: each entrypoint maps them in one table
(``services.api.problems.ERRORS``, the CLI's exit codes). The errors the layers below
raise are listed here too, so that an entrypoint knows every error by importing this
module alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.access import Decision
from domain.rules import RuleViolation
from infra.audit import CheckpointClashError
from infra.audit import MissingKeyError as MissingSigningKeyError
from infra.config import ConfigurationError
from infra.headcount import HeadcountRejectedError
from infra.keys import CaseOwnerError, MissingKeyError
from infra.open_files import FileAlreadyOpenError
from infra.pg_recorder import is_lock_timeout
from infra.service_tables import AccessLogBusyError
from infra.witness import WitnessError
from projections.reports import MissingHeadcount
from services.application.backup import BackupRejectedError, StoreNotEmptyError
from services.application.case_views import (
    NotYetBegunError,
    NotYetKnownError,
    UnreadableFileError,
)
from services.application.erasure import ErasureError
from services.application.importer import ImportRejectedError
from services.application.ledger import DuplicateEventError, UnknownCaseError, VersionConflictError
from services.schema import SchemaTooNewError

__all__ = [
    "AccessLogBusyError",
    "ApplicationError",
    "BackupRejectedError",
    "CaseOwnerError",
    "CheckpointClashError",
    "ConfigurationError",
    "DuplicateEventError",
    "ErasureError",
    "FileAlreadyOpenError",
    "Forbidden",
    "HeadcountRejectedError",
    "IdempotencyKeyReused",
    "ImportRejectedError",
    "InvalidRequest",
    "Issue",
    "MissingHeadcount",
    "MissingKeyError",
    "MissingSigningKeyError",
    "NotReady",
    "NotYetBegunError",
    "NotYetKnownError",
    "RequestInProgress",
    "RuleViolation",
    "SchemaTooNewError",
    "StoreNotEmptyError",
    "UnknownCaseError",
    "UnreadableFileError",
    "VersionConflictError",
    "WitnessError",
    "is_lock_timeout",
]


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a command: the field (a dotted path), what is wrong, and the
    rule or line where there is one."""

    field: str
    message: str
    rule: str | None = None
    line: int | None = None


class ApplicationError(Exception):
    """A use case refused the command; ``issues`` name the fields."""

    def __init__(self, detail: str, issues: list[Issue] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issues = issues or []


class Forbidden(ApplicationError):
    """The caller's role may not do this (rules reference s5, ``domain.access``)."""

    def __init__(self, reason: str, rule: str) -> None:
        super().__init__(reason, [Issue("authorization", reason, rule)])
        self.rule = rule

    @classmethod
    def unless(cls, decision: Decision) -> None:
        """Raise unless ``decision`` allows."""
        if not decision:
            raise cls(decision.reason, decision.rule)

    @classmethod
    def unless_case(cls, decision: Decision, case_id: UUID) -> None:
        """``unless`` for a decision about the case ``case_id``: one the decision hides is
        answered as unknown (``UnknownCaseError``), never named."""
        if decision.hidden:
            raise UnknownCaseError(case_id)
        cls.unless(decision)


class InvalidRequest(ApplicationError):
    """The command is not well formed (a field missing, a value out of range)."""

    def __init__(self, detail: str, issues: list[Issue] | None = None, *,
                 kind: str = "invalid-request") -> None:  # fmt: skip
        super().__init__(detail, issues)
        self.kind = kind


class IdempotencyKeyReused(ApplicationError):
    """An Idempotency-Key first used with another request."""


class RequestInProgress(ApplicationError):
    """The first request with this Idempotency-Key has not finished yet."""


class NotReady(ApplicationError):
    """The store does not answer, or the read models are too far behind."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
