"""REST API of the leads app (API.md § Leads). Parse, call one service or selector, render."""

from django.db.models import Count
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.activity import with_next_activity
from crm.api import AdminWritesOnly, ClassifySerializer, OwnerField, ServiceViewSet
from crm.api_activity import NextActivityOutSerializer, next_activity_out, next_activity_payload
from crm.api_fast import CachedFieldsRepresentationMixin, RowRepresentation
from crm.pagination import SinglePagePagination
from leads import csv_io, selectors, services
from leads.filters import LeadFilter
from leads.models import DisqualificationReason, Lead, Rating

# --- leads ---------------------------------------------------------------------------------------


class LeadSerializer(CachedFieldsRepresentationMixin, serializers.ModelSerializer):
    owner = OwnerField()
    converted_account = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    converted_contact = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    next_activity = serializers.SerializerMethodField()
    # From the lead's score row (selectors.lead_list joins it).
    score = serializers.IntegerField(read_only=True)
    sales_ready = serializers.BooleanField(read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "first_name",
            "last_name",
            "company",
            "title",
            "email",
            "phone",
            "source",
            "industry",
            "country",
            "company_size",
            "status",
            "owner",
            "disqualification_reason",
            "disqualification_note",
            "disqualified_at",
            "revisit_on",
            "rating",
            "budget",
            "authority",
            "need",
            "timeline",
            "score",
            "sales_ready",
            "converted_account",
            "converted_contact",
            "converted_at",
            "next_activity",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "disqualification_reason",
            "disqualification_note",
            "disqualified_at",
            "revisit_on",
            "rating",
            "converted_at",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(NextActivityOutSerializer)
    def get_next_activity(self, obj) -> dict:
        """Its earliest open task: none, overdue, today or later (as ``?next_activity=``)."""
        return next_activity_payload(obj, field="lead", serializer=self)

    def validate(self, attrs):
        if "status" in self.initial_data:
            raise serializers.ValidationError(
                {
                    "status": [
                        _(
                            "The status changes only through the lead actions "
                            "(disqualify, requalify, convert)."
                        )
                    ]
                }
            )
        return attrs


#: ``LeadSerializer`` over ``values()`` rows (``selectors.lead_list_rows``): the list's JSON
#: without a model instance per lead (``tests/leads/test_list_rows.py`` compares the bytes).
LEAD_ROWS = RowRepresentation(
    LeadSerializer,
    computed={
        # A lead without its score row reads as 0 / not sales-ready (``Lead.score_row``).
        "score": (("lead_score__score",), lambda row: row["lead_score__score"] or 0),
        "sales_ready": (
            ("lead_score__sales_ready",),
            lambda row: row["lead_score__sales_ready"] or False,
        ),
        "next_activity": (("next_task_due",), lambda row: next_activity_out(row["next_task_due"])),
    },
)


class DisqualifySerializer(serializers.Serializer):
    reason = serializers.PrimaryKeyRelatedField(
        queryset=DisqualificationReason.objects.all(),
        allow_null=True,
        required=False,
        pk_field=serializers.IntegerField(),
    )
    note = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000)
    revisit_on = serializers.DateField(allow_null=True, required=False)


class ConvertSerializer(serializers.Serializer):
    account_name = serializers.CharField(
        allow_null=True, allow_blank=True, required=False, max_length=200
    )
    create_opportunity = serializers.BooleanField(required=False, default=False)
    opportunity_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, min_value=0, default=0
    )


class ConvertResultSerializer(serializers.Serializer):
    lead = LeadSerializer()
    account = serializers.IntegerField(allow_null=True)
    contact = serializers.IntegerField()
    opportunity = serializers.IntegerField(allow_null=True)
    opportunity_created = serializers.BooleanField()


@extend_schema_field(OpenApiTypes.INT)
class OwnerIdField(OwnerField):
    """An owner id outside a model serializer (typed for the schema)."""


class BulkAssignSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)
    owner = OwnerIdField(required=True)


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)


ImportReportSerializer = inline_serializer(
    "LeadImportReport",
    {
        "valid": serializers.IntegerField(),
        "invalid": serializers.IntegerField(),
        "imported": serializers.IntegerField(),
        "errors": serializers.ListField(child=serializers.DictField()),
        "file_errors": serializers.ListField(child=serializers.CharField()),
    },
)


class DuplicatesQuerySerializer(serializers.Serializer):
    email = serializers.CharField(required=False, default="", allow_blank=True, max_length=254)
    first_name = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    last_name = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    company = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)


class DuplicatesSerializer(serializers.Serializer):
    leads = LeadSerializer(many=True)
    contacts = serializers.ListField(child=serializers.DictField())


class LeadViewSet(ServiceViewSet):
    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    create_service = services.lead_create
    update_service = services.lead_update
    archive_service = services.lead_archive
    subject = "lead"

    #: The list serializes ``values()`` rows (``LEAD_ROWS``); False: model instances through
    #: ``LeadSerializer`` (the same JSON, slower).
    list_from_rows = True

    def get_queryset(self):
        # Each row's next activity in SQL (no query per row).
        return with_next_activity(
            selectors.lead_list(user=self.request.user), field="lead", user=self.request.user
        )

    def list(self, request, *args, **kwargs):
        if not self.list_from_rows:
            return super().list(request, *args, **kwargs)
        rows = self.filter_queryset(
            selectors.lead_list_rows(user=request.user, columns=LEAD_ROWS.columns)
        )
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(LEAD_ROWS.represent(rows))
        return self.get_paginated_response(LEAD_ROWS.represent(page))

    def _lead_response(self, lead):
        lead = selectors.lead_list(user=self.request.user).filter(pk=lead.pk).first() or lead
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data)

    @extend_schema(request=DisqualifySerializer, responses=LeadSerializer)
    @action(detail=True, methods=["post"])
    def disqualify(self, request, pk=None):
        lead = self.get_object()
        params = DisqualifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        lead = services.lead_disqualify(actor=request.user, lead=lead, **params.validated_data)
        return self._lead_response(lead)

    @extend_schema(request=None, responses=LeadSerializer)
    @action(detail=True, methods=["post"])
    def requalify(self, request, pk=None):
        lead = services.lead_requalify(actor=request.user, lead=self.get_object())
        return self._lead_response(lead)

    @extend_schema(request=ClassifySerializer, responses=LeadSerializer)
    @action(detail=True, methods=["post"])
    def classify(self, request, pk=None):
        """Classify with a rating (null clears it); a rating with a delay schedules a follow-up."""
        lead = self.get_object()
        params = ClassifySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        services.prospect_classify(
            actor=request.user, rating=params.validated_data["rating"], lead=lead
        )
        return self._lead_response(lead)

    @extend_schema(request=ConvertSerializer, responses=ConvertResultSerializer)
    @action(detail=True, methods=["post"])
    def convert(self, request, pk=None):
        lead = self.get_object()
        params = ConvertSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        result = services.lead_convert(
            actor=request.user,
            lead=lead,
            account_name=data.get("account_name"),
            create_opportunity=data["create_opportunity"],
            opportunity_name=data.get("opportunity_name", ""),
            opportunity_amount=data["amount"],
        )
        return Response(
            {
                "lead": LeadSerializer(result.lead, context=self.get_serializer_context()).data,
                "account": result.account.pk if result.account else None,
                "contact": result.contact.pk,
                "opportunity": result.opportunity.pk if result.opportunity else None,
                "opportunity_created": result.opportunity_created,
            }
        )

    @extend_schema(parameters=[DuplicatesQuerySerializer], responses=DuplicatesSerializer)
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def duplicates(self, request):
        """Possible duplicates (leads and contacts you can see) to show before creating a lead."""
        params = DuplicatesQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = selectors.lead_duplicates(user=request.user, **params.validated_data)
        return Response(
            {
                "leads": LeadSerializer(
                    found.leads, many=True, context=self.get_serializer_context()
                ).data,
                "contacts": [
                    {
                        "id": c.pk,
                        "name": c.name,
                        "email": c.email,
                        "account": c.account.name if c.account else "",
                    }
                    for c in found.contacts
                ],
            }
        )

    @extend_schema(
        request=BulkAssignSerializer,
        responses=inline_serializer("BulkAssignResult", {"updated": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="bulk-assign")
    def bulk_assign(self, request):
        params = BulkAssignSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        leads = self.get_queryset().filter(pk__in=params.validated_data["ids"])
        updated = services.lead_bulk_assign(
            actor=request.user, leads=leads, owner=params.validated_data["owner"]
        )
        return Response({"updated": updated})

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request):
        """CSV of the leads matching the filters, within what you may see."""
        leads = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(csv_io.csv_export_rows(leads), content_type="text/csv")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
        return response

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={200: ImportReportSerializer, 201: ImportReportSerializer},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
        filterset_class=None,
    )
    def import_csv(self, request):
        """Validate a CSV (``dry_run`` previews) and import its valid rows; report the others."""
        params = ImportSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        preview = csv_io.csv_parse(params.validated_data["file"].read())
        if preview.errors:
            return Response(
                {"file": preview.errors, **csv_io.import_report(preview, 0)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if params.validated_data["dry_run"]:
            return Response(csv_io.import_report(preview, 0))
        imported = services.lead_import(
            actor=request.user, rows=list(csv_io.iter_import_data(preview.rows))
        )
        return Response(csv_io.import_report(preview, imported), status=status.HTTP_201_CREATED)


# --- reasons and settings ------------------------------------------------------------------------


class DisqualificationReasonSerializer(serializers.ModelSerializer):
    archived = serializers.BooleanField(read_only=True)
    usage_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = DisqualificationReason
        fields = ["id", "name", "order", "archived", "usage_count"]
        read_only_fields = ["id", "order"]


class ReorderSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1)


class OrderedArchivableViewSet(ServiceViewSet):
    """Admin-ordered lists everyone reads (``?archived=false`` for pickers) and admins write.

    DELETE archives a row in use and removes an unused one (204 either way).
    """

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    pagination_class = SinglePagePagination
    filterset_class = None
    model = None
    reorder_service = None

    def get_queryset(self):
        qs = self.model.objects.order_by("archived_at", "order", "id")
        archived = self.request.query_params.get("archived")
        if archived in ("false", "0"):
            qs = qs.filter(archived_at__isnull=True)
        elif archived in ("true", "1"):
            qs = qs.filter(archived_at__isnull=False)
        return qs

    @extend_schema(parameters=[OpenApiParameter("archived", bool)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _reorder(self, request):
        params = ReorderSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        type(self).reorder_service(actor=request.user, ids=params.validated_data["ids"])
        qs = self.get_queryset().filter(archived_at__isnull=True)
        return Response(self.get_serializer(qs, many=True).data)


class DisqualificationReasonViewSet(OrderedArchivableViewSet):
    """Disqualification reasons, with how many leads use each."""

    model = DisqualificationReason
    serializer_class = DisqualificationReasonSerializer
    create_service = services.disqualification_reason_create
    update_service = services.disqualification_reason_update
    archive_service = services.disqualification_reason_delete
    reorder_service = services.disqualification_reason_reorder
    subject = "reason"

    def get_queryset(self):
        return super().get_queryset().annotate(usage_count=Count("leads", distinct=True))

    def perform_create(self, serializer):
        reason = services.disqualification_reason_create(
            actor=self.request.user, name=serializer.validated_data["name"]
        )
        serializer.instance = self.get_queryset().get(pk=reason.pk)

    def perform_update(self, serializer):
        services.disqualification_reason_update(
            actor=self.request.user,
            reason=serializer.instance,
            name=serializer.validated_data.get("name"),
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    @extend_schema(request=ReorderSerializer, responses=DisqualificationReasonSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        return self._reorder(request)


class LeadSettingsSerializer(serializers.Serializer):
    ask_disqualification_reason = serializers.BooleanField()


class LeadSettingsView(APIView):
    """``GET`` for everyone; ``PATCH`` for admins."""

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]

    @extend_schema(responses=LeadSettingsSerializer)
    def get(self, request):
        return Response(LeadSettingsSerializer(services.lead_settings_get()).data)

    @extend_schema(request=LeadSettingsSerializer, responses=LeadSettingsSerializer)
    def patch(self, request):
        params = LeadSettingsSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        obj = services.lead_settings_get()
        if "ask_disqualification_reason" in params.validated_data:
            obj = services.lead_settings_update(
                actor=request.user,
                ask_disqualification_reason=params.validated_data["ask_disqualification_reason"],
            )
        return Response(LeadSettingsSerializer(obj).data)


# --- report --------------------------------------------------------------------------------------


class ReportQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, allow_null=True)
    until = serializers.DateField(required=False, allow_null=True)
    group_by = serializers.ChoiceField(choices=selectors.GROUP_BY, required=False, default="reason")

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": [_("The end date is before the start.")]})
        return attrs


class ReportRowSerializer(serializers.Serializer):
    key = serializers.JSONField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    results = ReportRowSerializer(many=True)


class DisqualificationReportView(APIView):
    @extend_schema(parameters=[ReportQuerySerializer], responses=ReportSerializer)
    def get(self, request):
        params = ReportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(
            selectors.disqualification_report(user=request.user, **params.validated_data)
        )


class SourceRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    total = serializers.IntegerField()
    qualified = serializers.IntegerField()
    disqualified = serializers.IntegerField()
    qualification_rate = serializers.FloatField()


class QualificationBySourceView(APIView):
    """Leads created in the range, per source: total, qualified, disqualified and the rate."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
        ],
        responses=inline_serializer(
            "QualificationBySource", {"results": SourceRowSerializer(many=True)}
        ),
    )
    def get(self, request):
        params = ReportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        rows = selectors.qualification_by_source(
            user=request.user, since=data.get("since"), until=data.get("until")
        )
        return Response({"results": rows})


# --- ratings -------------------------------------------------------------------------------------


class RatingSerializer(serializers.ModelSerializer):
    archived = serializers.BooleanField(read_only=True)

    class Meta:
        model = Rating
        fields = [
            "id",
            "name",
            "applies_tag",
            "follow_up_days",
            "order",
            "colour",
            "icon",
            "archived",
        ]
        read_only_fields = ["id", "order", "archived"]


class RatingViewSet(OrderedArchivableViewSet):
    """Ratings: classifications (apply a tag) and outcomes, with their follow-up delays."""

    model = Rating
    serializer_class = RatingSerializer
    create_service = services.rating_create
    update_service = services.rating_update
    archive_service = services.rating_archive
    reorder_service = services.rating_reorder
    subject = "rating"

    @extend_schema(request=ReorderSerializer, responses=RatingSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        return self._reorder(request)
