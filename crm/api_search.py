"""``GET /api/v1/search/?q=``: the API twin of the global search box (crm/search.py), with the
same visibility rules and the same matching (name, company, e-mail, phone digits)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import search


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=search.MAX_QUERY_LENGTH,
        help_text=_(
            "Part of a name, company or e-mail, or a phone number in any format (digits are "
            "compared). Shorter than 3 characters: no results."
        ),
    )
    limit = serializers.IntegerField(
        required=False, default=5, min_value=1, max_value=20, help_text=_("Results per kind.")
    )


class SearchResultSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=search.KINDS)
    id = serializers.IntegerField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    url = serializers.CharField(help_text=_("The record's page."))


class SearchResultsSerializer(serializers.Serializer):
    results = SearchResultSerializer(many=True)


class SearchView(APIView):
    """Leads, contacts, accounts and opportunities you can see that match ``q``."""

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultsSerializer)
    def get(self, request):
        params = SearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        results = search.global_search(
            user=request.user,
            q=params.validated_data["q"],
            limit_per_kind=params.validated_data["limit"],
        )
        return Response({"results": results})
