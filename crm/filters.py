"""FilterSets shared by the API and the HTML list pages. Ids are plain numbers so that filtering by
an id the user may not see simply matches nothing (no existence leak)."""

import django_filters as df
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend

from crm.models import Account, CompanySize, Contact, Event, Role, Task, TaskKind, User


class FilterBackend(DjangoFilterBackend):
    """django-filter's DRF backend, minus the FilterSet when the request sets none of its filters.

    Building a FilterSet binds its form: a deep copy of every filter's form field, per request
    (a tenth of an unfiltered list request's time). With no parameter any filter reads (a
    filter's name, or its name and a widget suffix: ``created_after``), every filter gets an
    empty value, and an empty value filters nothing (``Filter.filter``, ``FilterMethod``,
    ``OrderingFilter``, ``LeadOrdering``), so the queryset is returned as it is. A FilterSet that
    overrides ``filter_queryset`` or ``qs`` always runs.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        if (
            filterset_class.filter_queryset is df.FilterSet.filter_queryset
            and filterset_class.qs is df.FilterSet.qs
            and not _reads_any(filterset_class, request.query_params)
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


def _reads_any(filterset_class, params) -> bool:
    names = filterset_class.base_filters
    return any(key in names or any(key.startswith(f"{name}_") for name in names) for key in params)


class IdFilter(df.NumberFilter):
    """A record id: a whole number (``2.5`` or ``1e400`` is a 400, not a silently rounded id)."""

    field_class = forms.IntegerField


class SearchFilterSet(df.FilterSet):
    search_fields: tuple[str, ...] = ()
    q = df.CharFilter(method="filter_q", label=_("Search"))

    def filter_q(self, queryset, name, value):
        cond = Q()
        for term in value.split():
            term_cond = Q()
            for f in self.search_fields:
                term_cond |= Q(**{f"{f}__icontains": term})
            cond &= term_cond
        return queryset.filter(cond)


class AccountFilter(SearchFilterSet):
    search_fields = ("name", "industry", "country")
    owner = IdFilter(field_name="owner_id", label=_("Owner"))
    industry = df.CharFilter(lookup_expr="iexact", label=_("Industry"))
    country = df.CharFilter(lookup_expr="iexact", label=_("Country"))
    company_size = df.ChoiceFilter(choices=CompanySize.choices, label=_("Company size"))
    sort = df.OrderingFilter(
        fields=(("name", "name"), ("created_at", "created"), ("country", "country")),
        label=_("Sort"),
    )

    class Meta:
        model = Account
        fields = ["q", "owner", "industry", "country", "company_size"]


class ContactFilter(SearchFilterSet):
    search_fields = ("first_name", "last_name", "email", "phone", "account__name")
    owner = IdFilter(field_name="owner_id", label=_("Owner"))
    account = IdFilter(field_name="account_id", label=_("Account"))
    account_name = df.CharFilter(method="filter_account_name", label=_("Account name contains"))
    rating = IdFilter(field_name="rating_id", label=_("Rating"))
    tag = df.CharFilter(
        field_name="tags__name", lookup_expr="iexact", label=_("Tag"), distinct=True
    )
    sort = df.OrderingFilter(
        fields=(("last_name", "name"), ("created_at", "created"), ("email", "email")),
        label=_("Sort"),
    )

    class Meta:
        model = Contact
        fields = ["q", "owner", "account", "account_name", "rating", "tag"]

    def filter_account_name(self, queryset, name, value):
        """Contacts of an account the user sees whose name holds ``value``, accents and case
        aside ("nunez" finds "Núñez SL"): the global search's expression, so the accounts'
        trigram index serves it. A name the user may not see finds nothing."""
        from crm import access
        from crm.search import Fold, fold

        user = getattr(self.request, "user", None)
        accounts = (
            access.visible_accounts(user)
            .annotate(_name=Fold("name"))
            .filter(_name__icontains=fold(" ".join(value.split())))
        )
        return queryset.filter(account_id__in=accounts.values("pk"))


class TaskFilter(SearchFilterSet):
    search_fields = ("title",)
    owner = IdFilter(field_name="owner_id", label=_("Owner"))
    done = df.BooleanFilter(label=_("Done"))
    kind = df.ChoiceFilter(choices=TaskKind.choices, label=_("Kind"))
    due_before = df.DateFilter(field_name="due_on", lookup_expr="lte", label=_("Due on or before"))
    due_after = df.DateFilter(field_name="due_on", lookup_expr="gte", label=_("Due on or after"))
    lead = IdFilter(field_name="lead_id", label=_("Lead"))
    contact = IdFilter(field_name="contact_id", label=_("Contact"))
    opportunity = IdFilter(field_name="opportunity_id", label=_("Opportunity"))
    sort = df.OrderingFilter(
        fields=(("due_on", "due"), ("title", "title"), ("created_at", "created")),
        label=_("Sort"),
    )

    class Meta:
        model = Task
        fields = ["q", "owner", "done", "kind", "due_before", "due_after", "lead", "contact"]


class EventFilter(df.FilterSet):
    """``contact``/``lead``/``opportunity`` include the events of the record's tasks."""

    lead = IdFilter(method="filter_subject", label=_("Lead"))
    contact = IdFilter(method="filter_subject", label=_("Contact"))
    opportunity = IdFilter(method="filter_subject", label=_("Opportunity"))
    account = IdFilter(field_name="account_id", label=_("Account"))
    task = IdFilter(field_name="task_id", label=_("Task"))
    kind = df.CharFilter(label=_("Kind"))

    class Meta:
        model = Event
        fields = ["lead", "contact", "opportunity", "account", "task", "kind"]

    def filter_subject(self, queryset, name, value):
        return queryset.filter(Q(**{f"{name}_id": value}) | Q(**{f"task__{name}_id": value}))


class UserFilter(SearchFilterSet):
    search_fields = ("username", "first_name", "last_name", "email")
    role = df.ChoiceFilter(choices=Role.choices, label=_("Role"))
    is_active = df.BooleanFilter(label=_("Active"))

    class Meta:
        model = User
        fields = ["q", "role", "is_active"]
