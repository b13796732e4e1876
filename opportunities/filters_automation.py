import django_filters as df
from django.utils.translation import gettext_lazy as _

from crm.filters import IdFilter
from opportunities.models import Enrollment, EnrollmentStatus, TriggerAction, TriggerEvent


class TriggerActionFilter(df.FilterSet):
    event = df.ChoiceFilter(choices=TriggerEvent.choices, label=_("When"))

    class Meta:
        model = TriggerAction
        fields = ["event"]


class EnrollmentFilter(df.FilterSet):
    """Shared by ``/api/v1/enrollments/`` and the enrollments of Settings > Sequences."""

    sequence = IdFilter(field_name="sequence_id", label=_("Sequence"))
    contact = IdFilter(field_name="contact_id", label=_("Contact"))
    lead = IdFilter(field_name="lead_id", label=_("Lead"))
    opportunity = IdFilter(field_name="opportunity_id", label=_("Opportunity"))
    status = df.ChoiceFilter(choices=EnrollmentStatus.choices, label=_("Status"))

    class Meta:
        model = Enrollment
        fields = ["sequence", "contact", "lead", "opportunity", "status"]
