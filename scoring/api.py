"""REST API of scoring (API.md § Scoring)."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api import AdminWritesOnly, ServiceViewSet
from crm.pagination import SinglePagePagination
from leads import selectors as lead_selectors
from leads.models import Lead
from scoring import services
from scoring.models import Criterion, RescoreJob


class CriterionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Criterion
        fields = ["id", "name", "field", "operator", "value", "points"]


class CriterionViewSet(ServiceViewSet):
    """Scoring criteria: everyone reads, admins write; every change starts a rescore."""

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]
    serializer_class = CriterionSerializer
    pagination_class = SinglePagePagination
    filterset_class = None
    create_service = services.criterion_create
    update_service = services.criterion_update
    archive_service = services.criterion_delete
    subject = "criterion"

    def get_queryset(self):
        return Criterion.objects.order_by("id")


class ScoringSettingsSerializer(serializers.Serializer):
    threshold = serializers.IntegerField(min_value=-100000, max_value=100000)
    auto_qualify = serializers.BooleanField()


class ScoringSettingsView(APIView):
    """``GET`` for everyone; ``PATCH`` for admins (a threshold change starts a rescore)."""

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]

    @extend_schema(responses=ScoringSettingsSerializer)
    def get(self, request):
        return Response(ScoringSettingsSerializer(services.scoring_settings_get()).data)

    @extend_schema(request=ScoringSettingsSerializer, responses=ScoringSettingsSerializer)
    def patch(self, request):
        params = ScoringSettingsSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        obj = services.scoring_settings_update(actor=request.user, **params.validated_data)
        return Response(ScoringSettingsSerializer(obj).data)


class BreakdownRowSerializer(serializers.Serializer):
    criterion = serializers.IntegerField()
    name = serializers.CharField()
    points = serializers.IntegerField()


class LeadScoreSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    threshold = serializers.IntegerField()
    sales_ready = serializers.BooleanField()
    breakdown = BreakdownRowSerializer(many=True)


class LeadScoreView(APIView):
    """A lead's score against the threshold, and why: each matching criterion and its points."""

    @extend_schema(responses=LeadScoreSerializer)
    def get(self, request, pk: int):
        try:
            lead = lead_selectors.lead_get(user=request.user, pk=pk)
        except Lead.DoesNotExist as exc:
            raise Http404 from exc
        data = services.lead_score_breakdown(lead)
        return Response(LeadScoreSerializer(data).data)


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = RescoreJob
        fields = ["id", "status", "processed", "total", "created_at", "started_at", "finished_at"]


class JobCreatedSerializer(serializers.Serializer):
    job = serializers.IntegerField()


class RescoreView(APIView):
    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]

    @extend_schema(request=None, responses={202: JobCreatedSerializer})
    def post(self, request):
        job = services.rescore_start(actor=request.user)
        return Response({"job": job.pk}, status=status.HTTP_202_ACCEPTED)


class JobView(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request, pk: int):
        job = RescoreJob.objects.filter(pk=pk).first()
        if job is None:
            raise Http404
        return Response(JobSerializer(job).data)
