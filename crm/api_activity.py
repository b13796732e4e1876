"""``POST /api/v1/activities/``: the API twin of the "Log activity" dialog (issue #9).

Body: exactly one of ``lead``, ``contact``, ``opportunity`` (an id), ``kind`` (``call`` or
``note``), ``outcome`` (``answered``, ``no_answer``, ``voicemail``, ``meeting_held`` or empty),
``note``, and optionally the next task: ``next_title`` + ``next_due_on``. A record the caller may
not see is 404, as everywhere. 201 with the logged activity and the next task (or null).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import access
from crm.activity import ActivityKind, Outcome
from crm.api import TaskSerializer
from crm.services_activity import activity_log

RECORD_QUERYSETS = {
    "lead": access.visible_leads,
    "contact": access.visible_contacts,
    "opportunity": access.visible_opportunities,
}


class ActivityLogSerializer(serializers.Serializer):
    lead = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    contact = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    opportunity = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    next_title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    next_due_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        given = [name for name in RECORD_QUERYSETS if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"detail": [_("Give exactly one lead, contact or opportunity.")]}
            )
        return attrs


class LoggedActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    outcome = serializers.CharField()
    note = serializers.CharField()
    lead = serializers.IntegerField(allow_null=True)
    contact = serializers.IntegerField(allow_null=True)
    opportunity = serializers.IntegerField(allow_null=True)
    next_task = TaskSerializer(allow_null=True)


class ActivityLogView(APIView):
    """Log a call or note about a lead, contact or opportunity and schedule the next task."""

    @extend_schema(request=ActivityLogSerializer, responses={201: LoggedActivitySerializer})
    def post(self, request):
        data = ActivityLogSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        ((field, pk),) = [(name, values.pop(name)) for name in RECORD_QUERYSETS if values.get(name)]
        for name in RECORD_QUERYSETS:
            values.pop(name, None)
        record = RECORD_QUERYSETS[field](request.user).filter(pk=pk).first()
        if record is None:
            raise exceptions.NotFound()
        result = activity_log(actor=request.user, **{field: record}, **values)
        event = result.event
        body = {
            "id": event.pk,
            "at": event.at,
            "kind": event.data["kind"],
            "outcome": event.data["outcome"],
            "note": event.data["note"],
            "lead": event.lead_id,
            "contact": event.contact_id,
            "opportunity": event.opportunity_id,
            "next_task": result.next_task,
        }
        out = LoggedActivitySerializer(body, context={"request": request})
        return Response(out.data, status=status.HTTP_201_CREATED)


# --- the next activity (and rotting) in the lead and opportunity payloads ---------------------


class NextActivityOutSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["none", "overdue", "today", "later"])
    due_on = serializers.DateField(allow_null=True)


def _siblings(obj, serializer) -> list:
    """The objects serialized together with ``obj`` (a ``many=True`` list), to annotate them all
    in one query rather than one per row."""
    parent = getattr(serializer, "parent", None)
    instance = getattr(parent, "instance", None)
    if isinstance(instance, list | tuple) and any(o is obj for o in instance):
        return list(instance)
    return [obj]


def next_activity_payload(obj, *, field: str, serializer) -> dict:
    """``{"state", "due_on"}`` from the list's SQL annotation; objects served without it (after
    an action, the duplicate check) get it in one query for all of them."""
    from crm.activity import attach_next_activity

    user = serializer.context["request"].user
    if not hasattr(obj, "next_task_due"):
        if field == "opportunity":
            from opportunities.selectors import attach_activity

            attach_activity(_siblings(obj, serializer), user=user)
        else:
            attach_next_activity(_siblings(obj, serializer), field=field, user=user)
    return next_activity_out(obj.next_task_due)


def next_activity_out(due) -> dict:
    """The payload of a next activity due on ``due`` (a date, or None: no open task)."""
    from crm.activity import next_activity_state

    return {"state": next_activity_state(due), "due_on": due}


def rotting_payload(obj, *, serializer) -> bool:
    if not hasattr(obj, "is_rotting"):
        from opportunities.selectors import attach_activity

        attach_activity(_siblings(obj, serializer), user=serializer.context["request"].user)
    return bool(obj.is_rotting)
