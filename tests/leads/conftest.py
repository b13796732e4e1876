import pytest

from leads.models import DisqualificationReason, LeadSettings


@pytest.fixture
def reasons(db):
    """The default reasons created by the data migration, by English name."""
    return {r.name: r for r in DisqualificationReason.objects.all()}


@pytest.fixture
def ask_reason(db):
    def _set(value: bool):
        LeadSettings.objects.update_or_create(pk=1, defaults={"ask_disqualification_reason": value})

    return _set
