"""Sealed rows: the user-written fields of a row live encrypted in its ``sealed`` column.

A model takes the ``SealedRow`` mixin and declares its private fields as ``SealedField``s;
code reads and writes them like ordinary attributes. The ORM's events do the rest:

- loading a row opens its ``sealed`` value with the owner's key;
- inserting a row seals its fields once the row has its id (the id is part of what the
  value is bound to), writing nothing readable first;
- a flush that changed a field, or that writes a row sealed under an older key version,
  seals it again with the owner's current key (key rotation re-encrypts lazily this way).

A row with no owner (a built-in catalogue character) keeps the same fields as plain JSON.
Sealed fields cannot be used in SQL: filter and sort on plain columns, or in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar, overload

from sqlalchemy import Connection, LargeBinary, Table, event, inspect, update
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, object_session
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from afterdark.privacy.cipher import MAGIC, Binding, SealError, key_version
from afterdark.privacy.keyring import Keyring, Pending
from afterdark.store.engine import KEYRING

T = TypeVar("T")
COLUMN = "sealed"

_PLAIN = "_afterdark_plain"
_DIRTY = "_afterdark_dirty"
_VERSION = "_afterdark_version"


class SealedField(Generic[T]):
    """A user-written field kept in the row's sealed value; ``default`` makes its empty value."""

    def __init__(self, default: Callable[[], T]) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        fields: dict[str, SealedField[Any]] = dict(getattr(owner, "__sealed_fields__", {}))
        fields[name] = self
        owner.__sealed_fields__ = fields  # type: ignore[attr-defined]

    @overload
    def __get__(self, obj: None, owner: type) -> SealedField[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object | None, owner: type) -> T | SealedField[T]:
        if obj is None:
            return self
        value: T = _plain(obj)[self.name]
        return value

    def __eq__(self, other: object) -> bool:
        raise TypeError(f"{self.name} is sealed: it cannot be compared or queried in SQL")

    __ne__ = __eq__
    __hash__ = object.__hash__

    def __set__(self, obj: object, value: T) -> None:
        _plain(obj)[self.name] = value
        obj.__dict__[_DIRTY] = True
        if inspect(obj).persistent:
            flag_modified(obj, COLUMN)


class SealedRow:
    """Mixin for a model whose ``SealedField``s are stored sealed in one column."""

    __sealed_fields__: ClassVar[dict[str, SealedField[Any]]] = {}
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)

    @property
    def sealed_owner(self) -> int | None:
        """The user whose key seals the row; None keeps it as plain JSON."""
        raise NotImplementedError


def encode(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def binding(table: str, row_id: int, owner: int) -> Binding:
    return Binding(owner, table, str(row_id), COLUMN)


def seal_fields(
    keyring: Keyring | None,
    connection: Connection,
    pending: Pending,
    *,
    table: str,
    row_id: int,
    owner: int | None,
    fields: dict[str, Any],
) -> bytes:
    """The ``sealed`` value of a row holding ``fields``."""
    if owner is None:
        return encode(fields)
    if keyring is None:
        raise SealError(f"no keyring to seal {table} rows")
    return keyring.seal_on(
        connection, pending, owner, encode(fields), binding(table, row_id, owner)
    )


def open_fields(
    keyring: Keyring | None,
    connection: Connection | None,
    pending: Pending,
    *,
    table: str,
    row_id: int,
    owner: int | None,
    blob: bytes,
) -> dict[str, Any]:
    """The fields in a row's ``sealed`` value."""
    if not blob.startswith(MAGIC):
        fields: dict[str, Any] = json.loads(blob)
        return fields
    if owner is None:
        raise SealError(f"{table} row {row_id} is sealed but has no owner")
    if keyring is None or connection is None:
        raise SealError(f"no keyring to open {table} row {row_id}")
    plain = keyring.open_on(connection, pending, owner, blob, binding(table, row_id, owner))
    opened: dict[str, Any] = json.loads(plain)
    return opened


def keyring_of(session: Session) -> Keyring | None:
    found: Keyring | None = session.info.get(KEYRING)
    return found


# --- plaintext on the instance ------------------------------------------------------------


def _defaults(obj: object) -> dict[str, Any]:
    fields: dict[str, SealedField[Any]] = type(obj).__sealed_fields__  # type: ignore[attr-defined]
    return {name: field.default() for name, field in fields.items()}


def _plain(obj: object) -> dict[str, Any]:
    plain: dict[str, Any] | None = obj.__dict__.get(_PLAIN)
    if plain is None:
        if obj.__dict__.get(COLUMN) is not None:
            raise SealError(f"{type(obj).__name__} {getattr(obj, 'id', '?')} was not opened")
        plain = obj.__dict__[_PLAIN] = _defaults(obj)
    return plain


def _current_fields(obj: SealedRow) -> dict[str, Any]:
    fields = _defaults(obj)
    fields.update({k: v for k, v in _plain(obj).items() if k in fields})
    return fields


def _open_into(obj: SealedRow, session: Session) -> None:
    blob = obj.__dict__.get(COLUMN)
    if blob is None:
        obj.__dict__.pop(_PLAIN, None)
        return
    keyring = keyring_of(session)
    owner = obj.sealed_owner
    fields = _defaults(obj)
    fields.update(
        open_fields(
            keyring,
            session.connection() if keyring is not None and owner is not None else None,
            Pending.of(session),
            table=_table(obj).name,
            row_id=obj.id,  # type: ignore[attr-defined]
            owner=owner,
            blob=blob,
        )
    )
    obj.__dict__[_PLAIN] = fields
    obj.__dict__[_DIRTY] = False
    obj.__dict__[_VERSION] = key_version(blob) if blob.startswith(MAGIC) else None


def _table(obj: object) -> Table:
    table: Table = type(obj).__table__  # type: ignore[attr-defined]
    return table


def _seal(obj: SealedRow, session: Session) -> bytes:
    owner = obj.sealed_owner
    connection, pending = session.connection(), Pending.of(session)
    blob = seal_fields(
        keyring_of(session),
        connection,
        pending,
        table=_table(obj).name,
        row_id=obj.id,  # type: ignore[attr-defined]
        owner=owner,
        fields=_current_fields(obj),
    )
    obj.__dict__[_DIRTY] = False
    obj.__dict__[_VERSION] = key_version(blob) if owner is not None else None
    return blob


def _stale(obj: SealedRow, session: Session) -> bool:
    """Whether the row was sealed under an older key version than its owner's current one."""
    version = obj.__dict__.get(_VERSION)
    owner = obj.sealed_owner
    keyring = keyring_of(session)
    if version is None or owner is None or keyring is None:
        return False
    current = keyring.current_on(session.connection(), Pending.of(session), owner)
    return bool(current.version > version)


# --- ORM events ---------------------------------------------------------------------------


@event.listens_for(SealedRow, "load", propagate=True)
def _on_load(target: SealedRow, context: Any) -> None:
    _open_into(target, context.session)


@event.listens_for(SealedRow, "refresh", propagate=True)
def _on_refresh(target: SealedRow, context: Any, attrs: Any) -> None:
    if attrs is None or COLUMN in attrs:
        _open_into(target, context.session)


@event.listens_for(SealedRow, "after_insert", propagate=True)
def _after_insert(_mapper: Mapper[Any], connection: Connection, target: SealedRow) -> None:
    session = object_session(target)
    if session is None:  # pragma: no cover - inserts always come from a session's flush
        raise SealError("a sealed row was inserted outside a session")
    blob = _seal(target, session)
    table = _table(target)
    connection.execute(update(table).where(table.c.id == target.id).values({COLUMN: blob}))  # type: ignore[attr-defined]
    set_committed_value(target, COLUMN, blob)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.dirty):
        if isinstance(obj, SealedRow) and (obj.__dict__.get(_DIRTY) or _stale(obj, session)):
            obj.sealed = _seal(obj, session)
