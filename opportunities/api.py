"""REST API of the opportunities app (API.md § Opportunities). Parse, call one service or
selector, render."""

from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import access
from crm.api import AdminWritesOnly, OwnerField, ServiceViewSet, VisibleRelatedField
from crm.api_activity import NextActivityOutSerializer, next_activity_payload, rotting_payload
from crm.models import Team, User
from leads.api import OrderedArchivableViewSet, ReorderSerializer
from opportunities import selectors, services
from opportunities.api_buynow import (
    BuyNowLinkCreateSerializer,
    BuyNowLinkSerializer,
    BuyNowLinksMixin,
)
from opportunities.filters import OpportunityFilter
from opportunities.models import BuyNowSkin, LossReason, Opportunity, Stage, WinReason


def _pk_field(model, **kwargs):
    kwargs.setdefault("pk_field", serializers.IntegerField())
    return serializers.PrimaryKeyRelatedField(queryset=model.objects.all(), **kwargs)


# --- opportunities -------------------------------------------------------------------------------


class OpportunitySerializer(serializers.ModelSerializer):
    owner = OwnerField()
    contact = VisibleRelatedField(access.visible_contacts, allow_null=False, required=True)
    stage = _pk_field(Stage, required=False)
    win_reason = _pk_field(WinReason, required=False, allow_null=True)
    loss_reason = _pk_field(LossReason, required=False, allow_null=True)
    shared_with = serializers.SerializerMethodField()
    next_activity = serializers.SerializerMethodField()
    rotting = serializers.SerializerMethodField()

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "name",
            "contact",
            "owner",
            "stage",
            "amount",
            "win_reason",
            "loss_reason",
            "shared_with",
            "status",
            "closed_at",
            "stage_entered_at",
            "lead",
            "next_activity",
            "rotting",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "closed_at",
            "stage_entered_at",
            "lead",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"amount": {"min_value": 0}}

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_shared_with(self, obj) -> list[int]:
        return sorted(share.user_id for share in obj.shares.all())

    @extend_schema_field(NextActivityOutSerializer)
    def get_next_activity(self, obj) -> dict:
        return next_activity_payload(obj, field="opportunity", serializer=self)

    @extend_schema_field(serializers.BooleanField())
    def get_rotting(self, obj) -> bool:
        """Open, idle longer than its stage allows and nothing scheduled (``?rotting=``)."""
        return rotting_payload(obj, serializer=self)

    def validate(self, attrs):
        if "status" in self.initial_data:
            raise serializers.ValidationError(
                {"status": [_("The status follows the stage: move the deal to another stage.")]}
            )
        return attrs


class EnsureSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    owner = OwnerField(allow_null=True)


class ShareSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), pk_field=serializers.IntegerField()
    )


class MoveSerializer(serializers.Serializer):
    stage = _pk_field(Stage)
    win_reason = _pk_field(WinReason, required=False, allow_null=True, default=None)
    loss_reason = _pk_field(LossReason, required=False, allow_null=True, default=None)


class OpportunityViewSet(BuyNowLinksMixin, ServiceViewSet):
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilter
    create_service = services.opportunity_create
    update_service = services.opportunity_update
    archive_service = services.opportunity_archive
    subject = "opportunity"

    def get_queryset(self):
        # The next activity and rotting of each row in SQL (no query per row).
        return selectors.with_activity(
            selectors.opportunity_list(user=self.request.user), user=self.request.user
        )

    def _response(self, opportunity, code=status.HTTP_200_OK):
        opportunity = self.get_queryset().filter(pk=opportunity.pk).first() or opportunity
        return Response(self.get_serializer(opportunity).data, status=code)

    @extend_schema(
        request=EnsureSerializer,
        responses={200: OpportunitySerializer, 201: OpportunitySerializer},
    )
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def ensure(self, request):
        """The contact's opportunity in an active stage (200, owner untouched) or a new one in
        the default stage (201). ``owner`` null: the contact's owner."""
        params = EnsureSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        contact = access.visible_contacts(request.user).filter(pk=params.validated_data["contact"])
        contact = contact.first()
        if contact is None:
            raise serializers.ValidationError({"contact": [_("That record does not exist.")]})
        opportunity, created = services.opportunity_ensure(
            actor=request.user,
            contact=contact,
            name=params.validated_data["name"],
            owner=params.validated_data.get("owner"),
        )
        if not created and not access.can_see(request.user, opportunity):
            # Another rep is engaged with this contact: say so without showing their deal.
            return Response(
                {
                    "detail": _(
                        "This contact already has an open opportunity in an active stage, "
                        "owned by another user."
                    )
                },
                status=status.HTTP_409_CONFLICT,
            )
        return self._response(opportunity, status.HTTP_201_CREATED if created else 200)

    def _sharing(self, request, service):
        opportunity = self.get_object()
        params = ShareSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        opportunity = service(
            actor=request.user, opportunity=opportunity, user=params.validated_data["user"]
        )
        return self._response(opportunity)

    @extend_schema(request=ShareSerializer, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Share with a user (owner or admin only: 403 otherwise)."""
        return self._sharing(request, services.opportunity_share)

    @extend_schema(request=ShareSerializer, responses=OpportunitySerializer)
    @action(detail=True, methods=["post"])
    def unshare(self, request, pk=None):
        """Stop sharing with a user (owner or admin only)."""
        return self._sharing(request, services.opportunity_unshare)

    @extend_schema(request=MoveSerializer, responses=OpportunitySerializer)
    @extend_schema(methods=["GET"], request=None, responses=BuyNowLinkSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=BuyNowLinkCreateSerializer,
        responses={201: BuyNowLinkSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="buy-now-links",
        filterset_class=None,
        pagination_class=None,
    )
    def buy_now_links(self, request, pk=None):
        """The deal's buy-now links (GET), or a new one (POST; ``expire_days`` null: the
        setting's default). ``url`` is the address to send the prospect."""
        return self._buy_now_links(request, self.get_object())

    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move to a stage (the board's drag). A required win/loss reason missing: 400."""
        opportunity = self.get_object()
        params = MoveSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        opportunity = services.opportunity_move(
            actor=request.user, opportunity=opportunity, **params.validated_data
        )
        return self._response(opportunity)


# --- stages, reasons and settings ----------------------------------------------------------------


class StageSerializer(serializers.ModelSerializer):
    archived = serializers.BooleanField(read_only=True)
    usage_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Stage
        fields = ["id", "name", "order", "probability", "rot_days", "archived", "usage_count"]
        read_only_fields = ["id", "order"]


class StageViewSet(OrderedArchivableViewSet):
    """Pipeline stages, in order, with how many opportunities are in each."""

    model = Stage
    serializer_class = StageSerializer
    create_service = services.stage_create
    update_service = services.stage_update
    archive_service = services.stage_delete
    reorder_service = services.stage_reorder
    subject = "stage"

    def get_queryset(self):
        return super().get_queryset().annotate(usage_count=Count("opportunities", distinct=True))

    def perform_create(self, serializer):
        stage = services.stage_create(actor=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=stage.pk)

    def perform_update(self, serializer):
        services.stage_update(
            actor=self.request.user, stage=serializer.instance, **serializer.validated_data
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    @extend_schema(request=ReorderSerializer, responses=StageSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        return self._reorder(request)


class _ReasonSerializer(serializers.ModelSerializer):
    archived = serializers.BooleanField(read_only=True)
    usage_count = serializers.IntegerField(read_only=True)

    class Meta:
        fields = ["id", "name", "order", "archived", "usage_count"]
        read_only_fields = ["id", "order"]


class WinReasonSerializer(_ReasonSerializer):
    class Meta(_ReasonSerializer.Meta):
        model = WinReason


class LossReasonSerializer(_ReasonSerializer):
    class Meta(_ReasonSerializer.Meta):
        model = LossReason


class _ReasonViewSet(OrderedArchivableViewSet):
    subject = "reason"

    def get_queryset(self):
        return super().get_queryset().annotate(usage_count=Count("opportunities", distinct=True))

    def perform_create(self, serializer):
        reason = type(self).create_service(
            actor=self.request.user, name=serializer.validated_data["name"]
        )
        serializer.instance = self.get_queryset().get(pk=reason.pk)

    def perform_update(self, serializer):
        type(self).update_service(
            actor=self.request.user,
            reason=serializer.instance,
            name=serializer.validated_data.get("name"),
        )
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


class WinReasonViewSet(_ReasonViewSet):
    """Why deals are won, with how many deals carry each."""

    model = WinReason
    serializer_class = WinReasonSerializer
    create_service = services.win_reason_create
    update_service = services.win_reason_update
    archive_service = services.win_reason_delete
    reorder_service = services.win_reason_reorder

    @extend_schema(request=ReorderSerializer, responses=WinReasonSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        return self._reorder(request)


class LossReasonViewSet(_ReasonViewSet):
    """Why deals are lost, with how many deals carry each."""

    model = LossReason
    serializer_class = LossReasonSerializer
    create_service = services.loss_reason_create
    update_service = services.loss_reason_update
    archive_service = services.loss_reason_delete
    reorder_service = services.loss_reason_reorder

    @extend_schema(request=ReorderSerializer, responses=LossReasonSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        return self._reorder(request)


class OpportunitySettingsSerializer(serializers.Serializer):
    active_stages = _pk_field(Stage, many=True)
    default_stage = _pk_field(Stage, allow_null=True)
    win_stage = _pk_field(Stage, allow_null=True)
    require_win_reason = serializers.BooleanField()
    loss_stage = _pk_field(Stage, allow_null=True)
    require_loss_reason = serializers.BooleanField()
    assign_to_group = _pk_field(Team, allow_null=True)
    share_contact_when_shared = serializers.BooleanField()
    share_contact_when_assigned = serializers.BooleanField()
    unshare_contact_when_unshared = serializers.BooleanField()
    unshare_contact_when_unassigned = serializers.BooleanField()
    sync_opportunity_and_contact_owners = serializers.BooleanField()
    sync_owner_of_closed_leads = serializers.BooleanField()
    buy_now_expire_days = serializers.IntegerField(min_value=1, max_value=365)
    buy_now_skin = serializers.ChoiceField(choices=BuyNowSkin.choices)
    buy_now_win_reason = _pk_field(WinReason, allow_null=True)


class OpportunitySettingsView(APIView):
    """``GET`` for everyone; ``PATCH`` for admins."""

    permission_classes = [permissions.IsAuthenticated, AdminWritesOnly]

    @extend_schema(responses=OpportunitySettingsSerializer)
    def get(self, request):
        return Response(OpportunitySettingsSerializer(services.opportunity_settings_get()).data)

    @extend_schema(request=OpportunitySettingsSerializer, responses=OpportunitySettingsSerializer)
    def patch(self, request):
        params = OpportunitySettingsSerializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        obj = services.opportunity_settings_update(actor=request.user, **params.validated_data)
        return Response(OpportunitySettingsSerializer(obj).data)


# --- reports -------------------------------------------------------------------------------------


class WinLossQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False, allow_null=True)
    until = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": [_("The end date is before the start.")]})
        return attrs


class ReasonRowSerializer(serializers.Serializer):
    key = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    count = serializers.IntegerField()
    archived = serializers.BooleanField()


class OwnerRowSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    label = serializers.CharField()
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)


class MonthRowSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    won = serializers.IntegerField()
    lost = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True)


class StageRowSerializer(serializers.Serializer):
    key = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    count = serializers.IntegerField()
    archived = serializers.BooleanField()


class WinLossSerializer(serializers.Serializer):
    win_rate = serializers.FloatField(allow_null=True, help_text="won / (won + lost), 0–1")
    won_count = serializers.IntegerField()
    lost_count = serializers.IntegerField()
    created_count = serializers.IntegerField(help_text="deals created in the period (the funnel)")
    won = ReasonRowSerializer(many=True)
    lost = ReasonRowSerializer(many=True)
    by_owner = OwnerRowSerializer(many=True)
    by_month = MonthRowSerializer(many=True)
    lost_at_stage = StageRowSerializer(many=True)
    funnel = StageRowSerializer(many=True)


class WinLossReportView(APIView):
    """Deals closed between ``since`` and ``until`` (inclusive): win rate and why."""

    @extend_schema(parameters=[WinLossQuerySerializer], responses=WinLossSerializer)
    def get(self, request):
        params = WinLossQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        report = selectors.win_loss_report(user=request.user, **params.validated_data)
        return Response(WinLossSerializer(report).data)
