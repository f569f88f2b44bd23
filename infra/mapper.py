"""Maps pydantic domain events to the library's stored events and back."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

from domain.events import SicknessReported
from domain.privacy import protected_fields
from infra.keys import KeyRing, MissingKeyError, is_envelope

IDENTITY_FIELDS = {"originator_id", "originator_version"}


def field_aad(originator_id: UUID | str, originator_version: int, name: str) -> str:
    """What a sealed field is bound to: it cannot be moved to another event or field."""
    return f"{originator_id}:{originator_version}:{name}"


class PydanticMapper(Mapper[UUID]):
    """Like the library's ``Mapper``, for events that are pydantic models.

    The state is the model's JSON form, so dates, enums and nested models need no
    transcodings; ``class_version`` is stored when above 1 and old states are
    upcast with the class's ``upcast_vN_vM`` methods before validation.

    With a ``KeyRing``, personal and medical fields (``domain.privacy.PROTECTED``) are
    stored sealed with the keys of the event's file (case). Reading opens personal fields; medical
    fields and fields whose keys were erased come back as ``Withheld``.
    """

    keyring: KeyRing | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if not isinstance(domain_event, BaseModel):
            return super().to_stored_event(domain_event)
        state = domain_event.model_dump(mode="json", exclude=IDENTITY_FIELDS)
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        if self.keyring is not None:
            self._seal(domain_event, state)
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self._to_domain_event(stored_event, open_fields=True)

    def to_sealed_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The event with its protected fields left unopened (withheld as ``sealed``): what
        the read models get, since they keep no personal data; it also saves a rebuild
        the decryption and a key lookup per file."""
        return self._to_domain_event(stored_event, open_fields=False)

    def _to_domain_event(
        self, stored_event: StoredEvent, *, open_fields: bool
    ) -> DomainEventProtocol[UUID]:
        cls = resolve_topic(stored_event.topic)
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return super().to_domain_event(stored_event)
        state = self.decode_state(stored_event)
        from_version = state.pop("class_version", 1)
        while from_version < getattr(cls, "class_version", 1):
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        if not open_fields:
            _withhold_sealed(state)
        elif self.keyring is not None:
            self.open_fields(stored_event, state, medical=False)
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        return cast(DomainEventProtocol[UUID], cls.model_validate(state))

    def _seal(self, event: DomainEventProtocol[UUID], state: dict[str, Any]) -> None:
        assert self.keyring is not None
        fields = protected_fields(type(event))  # type: ignore[arg-type]
        if isinstance(event, SicknessReported) and event.subject_id is not None:
            self.keyring.open_files([(event.originator_id, event.subject_id)])
        if not fields:
            return
        subject = self.keyring.subject_of_case(event.originator_id)
        if subject is None:  # never stored in plain text by accident
            raise MissingKeyError(
                f"case {event.originator_id} has no subject key, so its personal data "
                "cannot be sealed (a sickness report gets one from Ledger.subject_of)"
            )
        for name, protection in fields.items():
            if state.get(name) is not None:
                aad = field_aad(event.originator_id, event.originator_version, name)
                state[name] = self.keyring.seal(event.originator_id, protection, aad, state[name])

    def open_fields(
        self, stored_event: StoredEvent, state: dict[str, Any], *, medical: bool
    ) -> dict[str, Any]:
        """Open the sealed fields of ``state`` in place (medical ones only if ``medical``)."""
        assert self.keyring is not None
        for name, value in state.items():
            if is_envelope(value):
                aad = field_aad(stored_event.originator_id, stored_event.originator_version, name)
                state[name] = self.keyring.open(value, aad, medical=medical)
        return state

    def decode_state(self, stored_event: StoredEvent) -> dict[str, Any]:
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            return cast(dict[str, Any], self.transcoder.decode(data))
        except Exception as error:
            msg = (
                f"Failed to deserialise stored event {stored_event.topic} of "
                f"{stored_event.originator_id} v{stored_event.originator_version}: {error}"
            )
            raise MapperDeserialisationError(msg) from error


def _withhold_sealed(state: dict[str, Any]) -> None:
    for name, value in state.items():
        if is_envelope(value):
            state[name] = {"withheld": "sealed"}
