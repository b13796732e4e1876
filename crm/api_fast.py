"""Serializer speed for list endpoints, with the same output.

DRF's ``Serializer.to_representation`` walks ``self.fields`` through a generator and looks up the
bound ``get_attribute`` / ``to_representation`` of every field again for every row. On a 50-row
page the child serializer of a ``many=True`` list is one instance reused for every row, so that
walk is done once here and kept on the instance: the per-row loop then only calls the fields.
A field that reads one plain attribute reads it
with ``getattr`` (DRF's generic walk of ``source_attrs`` is kept for everything else).
The result is the very dict DRF builds (same keys, same order, same values): see
``tests/crm/test_api_fast.py``.

Big lists go further: :class:`RowRepresentation` serializes ``values()`` rows of exactly the
columns the serializer's fields read, through those same fields, without building a model
instance (and its joined owner, reason, rating rows) per record.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework import fields as drf_fields
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField
from rest_framework.settings import api_settings as drf_settings

_MISSING = object()


def _getter(field):
    """``field.get_attribute``, shortened for a plain one-attribute source on an object.

    Only a field that keeps DRF's own ``Field.get_attribute`` and reads one attribute is
    shortened; whatever the short read cannot answer exactly (a mapping, a missing attribute, a
    callable value) goes through ``field.get_attribute`` as before.
    """
    slow = field.get_attribute
    attrs = field.source_attrs
    if type(field).get_attribute is not Field.get_attribute or len(attrs) != 1:
        return slow
    name = attrs[0]

    def get(instance):
        if isinstance(instance, Mapping):
            return slow(instance)
        value = getattr(instance, name, _MISSING)
        if value is _MISSING or callable(value):
            return slow(instance)
        return value

    return get


class CachedFieldsRepresentationMixin:
    """A ``Serializer`` mixin: the readable fields are resolved once per serializer instance."""

    def _readable_plan(self):
        plan = self.__dict__.get("_readable_plan_cache")
        if plan is None:
            plan = tuple(
                (field.field_name, _getter(field), field.to_representation)
                for field in self._readable_fields
            )
            self.__dict__["_readable_plan_cache"] = plan
        return plan

    def to_representation(self, instance):
        ret = {}
        for name, get_attribute, represent in self._readable_plan():
            try:
                attribute = get_attribute(instance)
            except SkipField:
                continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[name] = None if check is None else represent(attribute)
        return ret


#: fields whose ``to_representation`` of a column value is a builtin (``CharField``'s is
#: ``str(value)``, ``IntegerField``'s ``int(value)``): the builtin is called directly.
_BUILTIN_REPRESENTATION = {
    drf_fields.CharField.to_representation: str,
    drf_fields.IntegerField.to_representation: int,
}


class RowRepresentation:
    """A serializer's output for ``values()`` rows, without model instances.

    ``RowRepresentation(LeadSerializer, computed={...})`` reads each readable field of the
    serializer from one column of the row: a model field's own name, a primary-key relation's
    ``<source>_id``, or the key given in ``columns``; the value goes through that very field's
    ``to_representation`` (``None`` stays ``None``, as in DRF). A field that is not a column
    (a method field, a property) needs an entry in ``computed``: ``name: (keys, function)``,
    the row's keys it reads and a function of the row returning the field's JSON value. A field
    with neither raises ``ImproperlyConfigured``: a field added to the serializer cannot be
    left out silently. :attr:`columns` is what to pass to ``values()``.

    The plan is built on first use (the serializer's fields need the app registry) and kept
    for the process: no serializer is instantiated per request.
    """

    def __init__(
        self,
        serializer_class,
        *,
        columns: dict[str, str] | None = None,
        computed: dict[str, tuple[tuple[str, ...], Callable[[Mapping], Any]]] | None = None,
    ):
        self.serializer_class = serializer_class
        self._column_names = dict(columns or {})
        self._computed = dict(computed or {})
        self._plan: tuple | None = None
        self._columns: tuple[str, ...] = ()

    def _build(self) -> None:
        plan, keys = [], []
        for field in self.serializer_class()._readable_fields:
            name = field.field_name
            if name in self._computed:
                needs, function = self._computed[name]
                keys.extend(needs)
                plan.append((name, None, function))
                continue
            if name in self._column_names:
                key = self._column_names[name]
            elif isinstance(field, PrimaryKeyRelatedField) and len(field.source_attrs) == 1:
                key = f"{field.source}_id"
            elif (
                type(field).get_attribute is Field.get_attribute
                and len(field.source_attrs) == 1
                and not isinstance(field, drf_fields.SerializerMethodField)
            ):
                key = field.source
            else:
                raise ImproperlyConfigured(
                    f"{self.serializer_class.__name__}.{name}: give its column or compute it"
                )
            keys.append(key)
            if isinstance(field, PrimaryKeyRelatedField):
                represent = _pk_representation(field)
            elif _is_plain_datetime(field):
                represent = _AwareDatetime(field)
            else:
                method = type(field).to_representation
                represent = _BUILTIN_REPRESENTATION.get(method) or field.to_representation
            plan.append((name, key, represent))
        self._columns = tuple(dict.fromkeys(keys))
        self._plan = tuple(plan)

    @property
    def columns(self) -> tuple[str, ...]:
        """The ``values()`` keys the rows must hold."""
        if self._plan is None:
            self._build()
        return self._columns

    def represent(self, rows: Iterable[Mapping]) -> list[dict]:
        """The serializer's ``data`` for these rows (a ``many=True`` list)."""
        if self._plan is None:
            self._build()
        # the request's time zone, once per page rather than once per datetime
        tz = timezone.get_current_timezone() if settings.USE_TZ else None
        plan = [
            (name, key, represent.bind(tz) if isinstance(represent, _AwareDatetime) else represent)
            for name, key, represent in self._plan
        ]
        out = []
        for row in rows:
            item = {}
            for name, key, represent in plan:
                if key is None:
                    item[name] = represent(row)
                else:
                    value = row[key]
                    item[name] = None if value is None else represent(value)
            out.append(item)
        return out


def _pk_representation(field: PrimaryKeyRelatedField) -> Callable[[Any], Any]:
    """A primary-key relation's JSON value from the column holding the id."""
    if type(field).to_representation is not PrimaryKeyRelatedField.to_representation:
        return lambda value: field.to_representation(PKOnlyObject(pk=value))
    pk_field = field.pk_field
    if pk_field is None:
        return lambda value: value
    method = type(pk_field).to_representation
    return _BUILTIN_REPRESENTATION.get(method) or pk_field.to_representation


def _is_plain_datetime(field) -> bool:
    """A DRF ``DateTimeField`` answering ISO 8601 in the current time zone, as configured."""
    cls = type(field)
    return (
        isinstance(field, drf_fields.DateTimeField)
        and cls.to_representation is drf_fields.DateTimeField.to_representation
        and cls.enforce_timezone is drf_fields.DateTimeField.enforce_timezone
        and cls.default_timezone is drf_fields.DateTimeField.default_timezone
        and not hasattr(field, "timezone")
        and str(getattr(field, "format", drf_settings.DATETIME_FORMAT)).lower()
        == drf_fields.ISO_8601
    )


class _AwareDatetime:
    """``DateTimeField.to_representation`` of aware datetimes with the time zone looked up once
    per page (DRF looks it up per value); anything else goes to the field itself."""

    def __init__(self, field):
        self.field = field

    def __call__(self, value):
        return self.field.to_representation(value)

    def bind(self, tz) -> Callable[[Any], Any]:
        field = self.field
        if tz is None:
            return field.to_representation

        def represent(value):
            if not isinstance(value, datetime.datetime) or value.utcoffset() is None:
                return field.to_representation(value)
            try:
                text = value.astimezone(tz).isoformat()
            except OverflowError:
                return field.to_representation(value)
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return represent
