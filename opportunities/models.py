from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, OwnedRecord


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Opportunity(OwnedRecord):
    """A deal with a contact; stages and reasons come with the pipeline."""

    name = models.CharField(_("name"), max_length=200)
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("contact")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=OpportunityStatus.choices,
        default=OpportunityStatus.OPEN,
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [models.Index(fields=["owner", "archived_at"])]

    def __str__(self):
        return self.name
