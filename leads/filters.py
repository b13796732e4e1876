import datetime as dt

import django_filters as df
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.constants import EMPTY_VALUES

from crm.activity import NextActivity, next_activity_filter
from crm.filters import IdFilter, SearchFilterSet
from leads.models import Lead, LeadStatus


class LeadOrdering(df.OrderingFilter):
    """The list's sorts, each served by an index of ``(key, id)`` (``leads.models``).

    The lead id breaks ties in the direction of the sort (pages append ``pk`` ascending after
    it, which then adds nothing), so that one scan of the index, forwards or backwards, gives the
    whole order. Names and companies sort ignoring case (``lower()``). Every lead has its score
    row: sorting by score joins it as an inner join, so that the score table's index can drive
    the sort (an outer join must put leads without a row first, and cannot).
    """

    LOWER = frozenset({"last_name", "company"})

    def get_ordering_value(self, param):
        value = super().get_ordering_value(param)
        name = value.lstrip("-")
        expr = Lower(name) if name in self.LOWER else F(name)
        return expr.desc() if value.startswith("-") else expr.asc()

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        ordering = list(qs.query.order_by)
        if value in EMPTY_VALUES or not ordering:
            return qs
        if any(param.lstrip("-") == "score" for param in value):
            qs = qs.filter(lead_score__isnull=False)
        last = ordering[-1]
        return qs.order_by(*ordering, F("pk").desc() if last.descending else F("pk").asc())


class LeadFilter(SearchFilterSet):
    """Shared by ``/api/v1/leads/``, the export and the lead list page."""

    search_fields = ("first_name", "last_name", "company", "email")
    status = df.ChoiceFilter(choices=LeadStatus.choices, label=_("Status"))
    owner = df.NumberFilter(field_name="owner_id", label=_("Owner"))
    source = df.CharFilter(method="filter_source", label=_("Source"))
    disqualification_reason = df.NumberFilter(
        field_name="disqualification_reason_id", label=_("Disqualification reason")
    )
    rating = IdFilter(field_name="rating_id", label=_("Rating"))
    frozen = df.BooleanFilter(method="filter_frozen", label=_("Frozen"))
    # The score lives in the lead's score row (leads.LeadScore), whose indexes serve these.
    sales_ready = df.BooleanFilter(field_name="lead_score__sales_ready", label=_("Sales-ready"))
    score_min = df.NumberFilter(
        field_name="lead_score__score", lookup_expr="gte", label=_("Score at least")
    )
    score_max = df.NumberFilter(
        field_name="lead_score__score", lookup_expr="lte", label=_("Score at most")
    )
    created_after = df.DateFilter(method="filter_created", label=_("Created on or after"))
    created_before = df.DateFilter(method="filter_created", label=_("Created on or before"))
    next_activity = df.ChoiceFilter(
        choices=NextActivity.choices, method="filter_next_activity", label=_("Next activity")
    )
    sort = LeadOrdering(
        fields=(
            ("last_name", "name"),
            ("company", "company"),
            ("created_at", "created"),
            ("revisit_on", "revisit"),
            ("status", "status"),
            ("lead_score__score", "score"),
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

    def filter_source(self, queryset, name, value):
        """Case-insensitive, as ``lower() = lower()``: the form lead_source_lower_idx serves."""
        return queryset.filter(
            Exact(Lower("source"), Lower(Value(value.strip(), output_field=CharField())))
        )

    def filter_frozen(self, queryset, name, value):
        frozen = Q(status=LeadStatus.UNQUALIFIED, revisit_on__isnull=False)
        return queryset.filter(frozen) if value else queryset.exclude(frozen)
