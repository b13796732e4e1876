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
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
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
        serializer = self.serializer_class()
        model = getattr(getattr(serializer, "Meta", None), "model", None)
        plan, keys = [], []
        for field in serializer._readable_fields:
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
            if _represents_as_is(field, _model_field(model, key)):
                represent = _AS_IS
            elif isinstance(field, PrimaryKeyRelatedField):
                represent = _pk_representation(field)
            elif _is_plain_datetime(field):
                represent = _AwareDatetime(field)
            else:
                method = type(field).to_representation
                represent = _BUILTIN_REPRESENTATION.get(method) or field.to_representation
            plan.append((name, key, represent))
        self._columns = tuple(dict.fromkeys(keys))
        self._plan = tuple(plan)
        self._names = tuple(name for name, _, _ in plan)
        as_is = [(name, key) for name, key, represent in plan if represent is _AS_IS]
        self._as_is_names = tuple(name for name, _ in as_is)
        self._as_is_get = _getter_of(tuple(key for _, key in as_is))

    @property
    def columns(self) -> tuple[str, ...]:
        """The ``values()`` keys the rows must hold."""
        if self._plan is None:
            self._build()
        return self._columns

    def represent(self, rows: Iterable[Mapping]) -> list[dict]:
        """The serializer's ``data`` for these rows (a ``many=True`` list).

        Each row's dict starts with every key in the serializer's order; the columns whose
        value DRF would return unchanged (text, integers, booleans, ids) are copied in one
        C-level ``update``; the others are converted one by one.
        """
        if self._plan is None:
            self._build()
        # the request's time zone, once per page rather than once per datetime
        tz = timezone.get_current_timezone() if settings.USE_TZ else None
        seen: dict = {}
        plan = [
            (
                name,
                key,
                represent.bind(tz, seen) if isinstance(represent, _AwareDatetime) else represent,
            )
            for name, key, represent in self._plan
            if represent is not _AS_IS
        ]
        names, as_is_names, as_is_get = self._names, self._as_is_names, self._as_is_get
        fromkeys = dict.fromkeys
        out = []
        for row in rows:
            item = fromkeys(names)
            item.update(zip(as_is_names, as_is_get(row), strict=True))
            for name, key, represent in plan:
                if key is None:
                    item[name] = represent(row)
                else:
                    value = row[key]
                    item[name] = None if value is None else represent(value)
            out.append(item)
        return out


#: the plan's mark of a column DRF returns unchanged
_AS_IS = object()


def _getter_of(keys: tuple[str, ...]) -> Callable[[Mapping], tuple]:
    if not keys:
        return lambda row: ()
    if len(keys) == 1:
        key = keys[0]
        return lambda row: (row[key],)
    return operator.itemgetter(*keys)


def _model_field(model, key: str):
    if model is None or "__" in key:
        return None
    try:
        return model._meta.get_field(key)
    except FieldDoesNotExist:
        return None


def _represents_as_is(field, model_field) -> bool:
    """Does ``field.to_representation`` return every non-null value of this column unchanged?

    Text columns hold ``str`` (``str(value)`` is the value; a ``ChoiceField`` with text keys
    maps a text to itself), integer columns ``int``, boolean columns ``bool``, and a relation's
    column the target's integer id.
    """
    if model_field is None:
        return False
    method = type(field).to_representation
    if isinstance(field, PrimaryKeyRelatedField):
        target = getattr(model_field, "target_field", None)
        pk_field = field.pk_field
        return (
            method is PrimaryKeyRelatedField.to_representation
            and model_field.is_relation
            and isinstance(target, models.IntegerField)
            and (pk_field is None or _represents_int_as_is(pk_field))
        )
    if isinstance(model_field, models.CharField | models.TextField):
        if method is drf_fields.CharField.to_representation:
            return True
        return method is drf_fields.ChoiceField.to_representation and all(
            isinstance(key, str) for key in field.choice_strings_to_values.values()
        )
    if isinstance(model_field, models.IntegerField) and not model_field.is_relation:
        return _represents_int_as_is(field)
    if isinstance(model_field, models.BooleanField):
        return method is drf_fields.BooleanField.to_representation
    return False


def _represents_int_as_is(field) -> bool:
    method = type(field).to_representation
    if method is drf_fields.IntegerField.to_representation:
        return True
    return method is drf_fields.BigIntegerField.to_representation and not getattr(
        field, "coerce_to_string", drf_settings.COERCE_BIGINT_TO_STRING
    )


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

    def bind(self, tz, seen: dict) -> Callable[[Any], Any]:
        """The representation in ``tz``, remembering each instant's text in ``seen`` (one dict
        for every datetime column of a page)."""
        field = self.field
        if tz is None:
            return field.to_representation

        # the same instant twice on a page (a lead's created_at and updated_at until it is
        # first edited) is converted once: an instant's text depends on nothing else
        def represent(value):
            text = seen.get(value) if type(value) is datetime.datetime else None
            if text is not None:
                return text
            if not isinstance(value, datetime.datetime) or value.utcoffset() is None:
                return field.to_representation(value)
            try:
                text = value.astimezone(tz).isoformat()
            except OverflowError:
                return field.to_representation(value)
            text = text[:-6] + "Z" if text.endswith("+00:00") else text
            seen[value] = text
            return text

        return represent
