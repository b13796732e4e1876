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
