"""Serializer speed for list endpoints, with the same output.

DRF's ``Serializer.to_representation`` walks ``self.fields`` through a generator and looks up the
bound ``get_attribute`` / ``to_representation`` of every field again for every row. On a 50-row
page the child serializer of a ``many=True`` list is one instance reused for every row, so that
walk is done once here and kept on the instance: the per-row loop then only calls the fields.
A field that reads one plain attribute reads it
with ``getattr`` (DRF's generic walk of ``source_attrs`` is kept for everything else).
The result is the very dict DRF builds (same keys, same order, same values): see
``tests/crm/test_api_fast.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject

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
