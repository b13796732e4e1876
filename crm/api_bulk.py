"""API twins of the list pages' bulk actions and saved views (issue #9).

- ``POST /api/v1/{leads|contacts|opportunities}/bulk/`` ``{"ids": [...], "action":
  "assign|tag|untag|disqualify|move|archive", "owner", "tag", "reason", "note", "stage",
  "win_reason", "loss_reason"}`` → 200 ``{"updated": n}``. The rules are those of
  ``crm.services_bulk`` (the pages call the same functions): an id the caller may not see makes the
  whole request 404 and nothing changes; a broken rule (a missing required reason) is a 400 and
  nothing changes; an opportunity the caller may not reassign or archive is a 403.
- ``/api/v1/saved-views/``: the caller's own views and the default views for everyone; a rep
  writes their own, an admin also the defaults (``"default": true``).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import selectors, services
from crm.api import OwnerField
from crm.api_parsers import PARSER_CLASSES
from crm.models import ListKey, SavedView
from crm.services_bulk import (
    ACTION_FIELDS,
    ACTIONS,
    LIST_ACTIONS,
    MAX_IDS,
    RecordsNotFound,
    bulk_apply,
    bulk_targets,
)


def _pk(model_path: str):
    from django.apps import apps

    return serializers.PrimaryKeyRelatedField(
        queryset=apps.get_model(model_path).objects.all(),
        allow_null=True,
        required=False,
        default=None,
        pk_field=serializers.IntegerField(),
    )


class BulkOwnerField(OwnerField):
    """An owner id (an active user)."""


class BulkSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_IDS
    )
    action = serializers.ChoiceField(choices=list(ACTIONS))
    owner = BulkOwnerField(required=False, allow_null=True, default=None)
    tag = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)
    reason = _pk("leads.DisqualificationReason")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    stage = _pk("opportunities.Stage")
    win_reason = _pk("opportunities.WinReason")
    loss_reason = _pk("opportunities.LossReason")

    def validate(self, data):
        list_key = self.context["list_key"]
        if data["action"] not in LIST_ACTIONS[list_key]:
            raise serializers.ValidationError(
                {"action": [_("This action is not available for this list.")]}
            )
        required = {
            "assign": ("owner", _("Choose the new owner.")),
            "tag": ("tag", _("Write the tag.")),
            "untag": ("tag", _("Write the tag.")),
            "move": ("stage", _("Choose a stage.")),
        }.get(data["action"])
        if required and data.get(required[0]) in (None, ""):
            raise serializers.ValidationError({required[0]: [required[1]]})
        return data


BulkResult = inline_serializer("BulkResult", {"updated": serializers.IntegerField()})


class BulkView(APIView):
    """Apply one action to many records at once (all or nothing)."""

    list_key = ""
    parser_classes = PARSER_CLASSES

    @extend_schema(request=BulkSerializer, responses=BulkResult)
    def post(self, request):
        params = BulkSerializer(data=request.data, context={"list_key": self.list_key})
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            records = bulk_targets(user=request.user, list_key=self.list_key, ids=data["ids"])
        except RecordsNotFound as exc:
            raise exceptions.NotFound() from exc
        values = {name: data[name] for name in ACTION_FIELDS[data["action"]]}
        updated = bulk_apply(
            actor=request.user,
            list_key=self.list_key,
            records=records,
            action=data["action"],
            **values,
        )
        return Response({"updated": updated})


class LeadBulkView(BulkView):
    list_key = "leads"


class ContactBulkView(BulkView):
    list_key = "contacts"


class OpportunityBulkView(BulkView):
    list_key = "opportunities"


# --- saved views ---------------------------------------------------------------------------------


class SavedViewSerializer(serializers.ModelSerializer):
    list = serializers.ChoiceField(source="list_key", choices=ListKey.choices)
    default = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = SavedView
        fields = ["id", "list", "name", "query", "order", "default", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"query": {"required": False, "allow_blank": True}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["default"] = instance.user_id is None
        return data


class SavedViewUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=60)
    query = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    order = serializers.IntegerField(required=False, min_value=0, max_value=100000)


class SavedViewViewSet(viewsets.ModelViewSet):
    """Your saved list views and the default views for everyone (``?list=leads`` narrows).

    Cursor-paginated newest first like every list; ``order`` and ``default`` say how the pages
    lay them out (defaults first, then by order)."""

    serializer_class = SavedViewSerializer
    parser_classes = PARSER_CLASSES
    filterset_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    queryset = SavedView.objects.none()  # for the schema; get_queryset is what serves

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return SavedView.objects.none()
        list_key = self.request.query_params.get("list")
        if list_key is not None and list_key not in ListKey.values:
            return SavedView.objects.none()
        return selectors.saved_view_list(user=self.request.user, list_key=list_key)

    def create(self, request, *args, **kwargs):
        params = SavedViewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        view = services.saved_view_create(
            actor=request.user,
            list_key=data["list_key"],
            name=data["name"],
            query=data.get("query", ""),
            for_everyone=data.get("default", False),
        )
        return Response(SavedViewSerializer(view).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SavedViewUpdateSerializer, responses=SavedViewSerializer)
    def partial_update(self, request, *args, **kwargs):
        view = self.get_object()
        params = SavedViewUpdateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        view = services.saved_view_update(actor=request.user, view=view, **params.validated_data)
        return Response(SavedViewSerializer(view).data)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise exceptions.MethodNotAllowed(request.method)
        return self.partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.saved_view_delete(actor=self.request.user, view=instance)
