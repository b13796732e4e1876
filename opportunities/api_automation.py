"""REST API of the automation (API.md § Opportunities: ``trigger-actions``, ``sequences``), plus
``enrollments``. Parse, call one service or selector, render."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from crm import access
from crm.api import AdminWritesOnly, ServiceViewSet
from crm.api_parsers import PARSER_CLASSES
from crm.pagination import SinglePagePagination
from leads.models import DisqualificationReason
from opportunities import selectors_automation as selectors
from opportunities import services_automation as services
from opportunities.filters_automation import EnrollmentFilter, TriggerActionFilter
from opportunities.models import (
    Enrollment,
    Sequence,
    StepKind,
    TriggerAction,
    TriggerActionKind,
    TriggerEvent,
)


def _pk(model, **kwargs):
    kwargs.setdefault("pk_field", serializers.IntegerField())
    return serializers.PrimaryKeyRelatedField(queryset=model.objects.all(), **kwargs)


# --- trigger actions -----------------------------------------------------------------------------


class TriggerActionSerializer(serializers.ModelSerializer):
    event = serializers.ChoiceField(choices=TriggerEvent.choices)
    action = serializers.ChoiceField(choices=TriggerActionKind.choices)
    tag = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The tag's name (created when new); for apply_tag.",
    )
    sequence = _pk(Sequence, required=False, allow_null=True)
    reasons = _pk(DisqualificationReason, many=True, required=False)
    run_count = serializers.IntegerField(read_only=True)
    failed_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = TriggerAction
        fields = [
            "id",
            "event",
            "action",
            "tag",
            "sequence",
            "reasons",
            "created_at",
            "run_count",
            "failed_count",
        ]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["reasons"] = sorted(r.pk for r in instance.reasons.all())
        return data


class TriggerActionViewSet(ServiceViewSet):
    """What automation does when a prospect clicks buy now, buys, or a lead is disqualified.
    Everyone signed in reads; admins write. DELETE archives (its runs keep it)."""

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    serializer_class = TriggerActionSerializer
    pagination_class = SinglePagePagination
    filterset_class = TriggerActionFilter
    create_service = services.trigger_action_create
    update_service = services.trigger_action_update
    archive_service = services.trigger_action_archive
    subject = "trigger_action"

    def get_queryset(self):
        return selectors.trigger_action_list()

    def perform_create(self, serializer):
        obj = services.trigger_action_create(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=obj.pk)

    def perform_update(self, serializer):
        services.trigger_action_update(
            actor=self.request.user,
            trigger_action=serializer.instance,
            **serializer.validated_data,
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


# --- sequences -----------------------------------------------------------------------------------


class StepSerializer(serializers.Serializer):
    """The rules (day 0–365, a title) are the service's: errors come back under ``steps``."""

    id = serializers.IntegerField(read_only=True)
    position = serializers.IntegerField(read_only=True)
    day_offset = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=StepKind.choices, default=StepKind.TASK)
    title = serializers.CharField(allow_blank=True, trim_whitespace=True)
    body = serializers.CharField(allow_blank=True, required=False, default="")


class SequenceSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, source="active_steps")
    archived = serializers.SerializerMethodField()
    active_count = serializers.IntegerField(read_only=True, help_text="active enrollments")
    enrollment_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Sequence
        fields = [
            "id",
            "name",
            "stop_when_closed",
            "steps",
            "archived",
            "active_count",
            "enrollment_count",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"name": {"validators": []}}

    def get_archived(self, obj) -> bool:
        return obj.archived_at is not None


class EnrollSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False, allow_null=True)
    lead = serializers.IntegerField(required=False, allow_null=True)
    opportunity = serializers.IntegerField(required=False, allow_null=True)


class EnrollmentSerializer(serializers.ModelSerializer):
    sequence_name = serializers.CharField(source="sequence.name", read_only=True)
    stop_reason = serializers.SerializerMethodField()
    steps_total = serializers.IntegerField(read_only=True)
    steps_done = serializers.IntegerField(read_only=True)
    next_due_on = serializers.DateField(read_only=True, allow_null=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "sequence",
            "sequence_name",
            "contact",
            "lead",
            "opportunity",
            "owner",
            "status",
            "started_on",
            "enrolled_by",
            "ended_at",
            "stop_reason",
            "steps_total",
            "steps_done",
            "next_due_on",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_stop_reason(self, obj) -> str:
        return selectors.stop_reason_label(obj.stop_reason)


class SequenceViewSet(ServiceViewSet):
    """Named follow-up steps. Everyone signed in reads and may enroll records they can see;
    admins write. DELETE archives (active enrollments stop)."""

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    serializer_class = SequenceSerializer
    pagination_class = SinglePagePagination
    filterset_class = None
    subject = "sequence"
    archive_service = services.sequence_archive

    def get_queryset(self):
        archived = self.request.query_params.get("archived") in ("true", "1")
        qs = selectors.sequence_list(include_archived=archived)
        return qs.filter(archived_at__isnull=False) if archived else qs

    @extend_schema(parameters=[OpenApiParameter("archived", bool)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _refetch(self, pk):
        return selectors.sequence_list(include_archived=True).get(pk=pk)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        steps = [dict(s) for s in data.pop("active_steps")]
        seq = services.sequence_create(actor=self.request.user, steps=steps, **data)
        serializer.instance = self._refetch(seq.pk)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "active_steps" in data:
            data["steps"] = [dict(s) for s in data.pop("active_steps")]
        services.sequence_update(actor=self.request.user, sequence=serializer.instance, **data)
        serializer.instance = self._refetch(serializer.instance.pk)

    @extend_schema(
        request=EnrollSerializer,
        responses={200: EnrollmentSerializer, 201: EnrollmentSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated],
        parser_classes=PARSER_CLASSES,
    )
    def enroll(self, request, pk=None):
        """Enroll ``{"contact": id}`` or ``{"lead": id}`` (one you can see; otherwise 404):
        201 with a new enrollment, 200 with the active one it already has."""
        sequence = self.get_object()
        params = EnrollSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        found = {}
        lookups = {
            "contact": access.visible_contacts,
            "lead": access.visible_leads,
            "opportunity": access.visible_opportunities,
        }
        for name, visible in lookups.items():
            pk_value = params.validated_data.get(name)
            if pk_value is not None:
                found[name] = visible(request.user).filter(pk=pk_value).first()
                if found[name] is None:
                    raise NotFound()
        enrollment, created = services.enrollment_start(
            actor=request.user, sequence=sequence, **found
        )
        enrollment = selectors.enrollment_list(user=request.user).get(pk=enrollment.pk)
        return Response(
            EnrollmentSerializer(enrollment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- enrollments ---------------------------------------------------------------------------------


class StopSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Enrollments of the contacts and leads you can see; filters ``sequence``, ``contact``,
    ``lead``, ``opportunity``, ``status``."""

    serializer_class = EnrollmentSerializer
    filterset_class = EnrollmentFilter
    parser_classes = PARSER_CLASSES

    def get_queryset(self):
        return selectors.enrollment_list(user=self.request.user)

    @extend_schema(request=StopSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def stop(self, request, pk=None):
        """Stop the enrollment (its pending steps are skipped); stopping a stopped one is a
        no-op (200)."""
        enrollment = self.get_object()
        params = StopSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        services.enrollment_stop(
            actor=request.user, enrollment=enrollment, reason=params.validated_data["reason"]
        )
        return Response(EnrollmentSerializer(self.get_queryset().get(pk=enrollment.pk)).data)


__all__ = [
    "EnrollmentViewSet",
    "SequenceViewSet",
    "TriggerActionViewSet",
]
