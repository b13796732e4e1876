import pytest

from opportunities.models import LossReason, Stage, WinReason
from opportunities.services import opportunity_settings_get


@pytest.fixture
def pipeline(db):
    """The fresh-install pipeline by name, plus the settings row."""
    stages = {s.name: s for s in Stage.objects.all()}
    return {
        "settings": opportunity_settings_get(),
        **stages,
        "win_reasons": {r.name: r for r in WinReason.objects.all()},
        "loss_reasons": {r.name: r for r in LossReason.objects.all()},
    }
