import datetime as dt

import django_filters as df
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.activity import NextActivity, next_activity_filter
from crm.filters import IdFilter, SearchFilterSet
from leads.models import Lead, LeadStatus


class LeadFilter(SearchFilterSet):
    """Shared by ``/api/v1/leads/``, the export and the lead list page."""

    search_fields = ("first_name", "last_name", "company", "email")
    status = df.ChoiceFilter(choices=LeadStatus.choices, label=_("Status"))
    owner = df.NumberFilter(field_name="owner_id", label=_("Owner"))
    source = df.CharFilter(lookup_expr="iexact", label=_("Source"))
    disqualification_reason = df.NumberFilter(
        field_name="disqualification_reason_id", label=_("Disqualification reason")
    )
    rating = IdFilter(field_name="rating_id", label=_("Rating"))
    frozen = df.BooleanFilter(method="filter_frozen", label=_("Frozen"))
    sales_ready = df.BooleanFilter(label=_("Sales-ready"))
    score_min = df.NumberFilter(field_name="score", lookup_expr="gte", label=_("Score at least"))
    score_max = df.NumberFilter(field_name="score", lookup_expr="lte", label=_("Score at most"))
    created_after = df.DateFilter(method="filter_created", label=_("Created on or after"))
    created_before = df.DateFilter(method="filter_created", label=_("Created on or before"))
    next_activity = df.ChoiceFilter(
        choices=NextActivity.choices, method="filter_next_activity", label=_("Next activity")
    )
    sort = df.OrderingFilter(
        fields=(
            ("last_name", "name"),
            ("company", "company"),
            ("created_at", "created"),
            ("revisit_on", "revisit"),
            ("status", "status"),
            ("score", "score"),
        ),
        label=_("Sort"),
    )

    class Meta:
        model = Lead
        fields = [
            "q",
            "status",
            "owner",
            "source",
            "disqualification_reason",
            "rating",
            "frozen",
            "sales_ready",
            "score_min",
            "score_max",
            "created_after",
            "created_before",
            "next_activity",
        ]

    def filter_next_activity(self, queryset, name, value):
        return queryset.filter(*next_activity_filter("lead", value))

    def filter_created(self, queryset, name, value):
        """A local-day boundary as a datetime range, so the created_at index is used."""
        tz = timezone.get_current_timezone()
        if name == "created_after":
            return queryset.filter(created_at__gte=dt.datetime.combine(value, dt.time.min, tz))
        end = dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min, tz)
        return queryset.filter(created_at__lt=end)

    def filter_frozen(self, queryset, name, value):
        frozen = Q(status=LeadStatus.UNQUALIFIED, revisit_on__isnull=False)
        return queryset.filter(frozen) if value else queryset.exclude(frozen)
