import pytest
from django.utils import translation

from leads import selectors, services
from leads.models import DisqualificationReason, Rating
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_default_names_show_in_the_users_language(rep, reasons):
    rating = Rating.objects.get(name="Promising prospect")
    custom = DisqualificationReason.objects.create(name="Sin stock")
    services.lead_disqualify(actor=rep, lead=LeadFactory(owner=rep), reason=reasons["No budget"])
    with translation.override("es"):
        assert str(reasons["No budget"]) != "No budget"
        assert str(rating) == "Cliente potencial prometedor"
        assert str(custom) == "Sin stock"  # a name an admin typed is shown as typed
        labels = [r["label"] for r in selectors.disqualification_report(user=rep)["results"]]
        assert labels == [str(reasons["No budget"])]
    with translation.override("en"):
        assert str(rating) == "Promising prospect"
