import django_filters as df
from django.utils.translation import gettext_lazy as _

from crm.activity import NextActivity, next_activity_filter
from crm.filters import IdFilter, SearchFilterSet
from opportunities.models import Opportunity, OpportunityStatus


class OpportunityFilter(SearchFilterSet):
    """Shared by ``/api/v1/opportunities/``, the list page and its CSV export."""

    search_fields = ("name", "contact__first_name", "contact__last_name", "contact__email")
    stage = IdFilter(field_name="stage_id", label=_("Stage"))
    owner = IdFilter(field_name="owner_id", label=_("Owner"))
    contact = IdFilter(field_name="contact_id", label=_("Contact"))
    status = df.ChoiceFilter(choices=OpportunityStatus.choices, label=_("Status"))
    win_reason = IdFilter(field_name="win_reason_id", label=_("Win reason"))
    loss_reason = IdFilter(field_name="loss_reason_id", label=_("Loss reason"))
    closed_after = df.DateFilter(
        field_name="closed_at", lookup_expr="date__gte", label=_("Closed on or after")
    )
    closed_before = df.DateFilter(
        field_name="closed_at", lookup_expr="date__lte", label=_("Closed on or before")
    )
    next_activity = df.ChoiceFilter(
        choices=NextActivity.choices, method="filter_next_activity", label=_("Next activity")
    )
    rotting = df.BooleanFilter(method="filter_rotting", label=_("Rotting"))
    sort = df.OrderingFilter(
        fields=(
            ("name", "name"),
            ("amount", "amount"),
            ("created_at", "created"),
            ("closed_at", "closed"),
            ("stage_entered_at", "in_stage"),
        ),
        label=_("Sort"),
    )

    class Meta:
        model = Opportunity
        fields = [
            "q",
            "stage",
            "owner",
            "contact",
            "status",
            "win_reason",
            "loss_reason",
            "next_activity",
            "rotting",
        ]

    def filter_next_activity(self, queryset, name, value):
        return queryset.filter(*next_activity_filter("opportunity", value))

    def filter_rotting(self, queryset, name, value):
        from opportunities.selectors import rotting_q

        rotting = rotting_q()
        return queryset.filter(rotting) if value else queryset.exclude(rotting)
