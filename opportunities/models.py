from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, OwnedRecord
from leads.models import AdminListItem


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


def _active_name_unique(name: str, message):
    return models.UniqueConstraint(
        Lower("name"),
        condition=Q(archived_at__isnull=True),
        name=name,
        violation_error_message=message,
    )


class Stage(AdminListItem):
    """A column of the pipeline. Its role (active, default, win, loss) is set in the settings."""

    name = models.CharField(_("name"), max_length=60)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=0, validators=[MaxValueValidator(100)]
    )

    class Meta(AdminListItem.Meta):
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            _active_name_unique("stage_active_name_ci_unique", _("A stage with this name exists.")),
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_pct"),
        ]


class WinReason(AdminListItem):
    name = models.CharField(_("name"), max_length=100)

    class Meta(AdminListItem.Meta):
        verbose_name = _("win reason")
        verbose_name_plural = _("win reasons")
        constraints = [
            _active_name_unique(
                "win_reason_active_name_ci_unique", _("A reason with this name already exists.")
            )
        ]


class LossReason(AdminListItem):
    name = models.CharField(_("name"), max_length=100)

    class Meta(AdminListItem.Meta):
        verbose_name = _("loss reason")
        verbose_name_plural = _("loss reasons")
        constraints = [
            _active_name_unique(
                "loss_reason_active_name_ci_unique", _("A reason with this name already exists.")
            )
        ]


class OpportunitySettings(models.Model):
    """Single-row settings (see ``opportunities.services.opportunity_settings_get``)."""

    SINGLETON_PK = 1

    active_stages = models.ManyToManyField(
        Stage, blank=True, related_name="+", verbose_name=_("active stages")
    )
    default_stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default stage"),
    )
    win_stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("win stage"),
    )
    require_win_reason = models.BooleanField(_("require a win reason"), default=True)
    loss_stage = models.ForeignKey(
        Stage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("loss stage"),
    )
    require_loss_reason = models.BooleanField(_("require a loss reason"), default=True)
    # Visibility (sharing rules): all on by default.
    assign_to_group = models.ForeignKey(
        "crm.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assign to group"),
        help_text=_("Only its members are offered as owners of opportunities. Empty: anyone."),
    )
    share_contact_when_shared = models.BooleanField(_("share contact when shared"), default=True)
    share_contact_when_assigned = models.BooleanField(
        _("share contact when assigned"), default=True
    )
    unshare_contact_when_unshared = models.BooleanField(
        _("unshare contact when unshared"), default=True
    )
    unshare_contact_when_unassigned = models.BooleanField(
        _("unshare contact when unassigned"), default=True
    )
    sync_opportunity_and_contact_owners = models.BooleanField(
        _("sync opportunity and contact owners"), default=True
    )
    sync_owner_of_closed_leads = models.BooleanField(_("sync owner of closed leads"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("opportunity settings")
        verbose_name_plural = _("opportunity settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="opportunity_settings_singleton")
        ]

    def __str__(self):
        return str(_("Opportunity defaults"))


class Opportunity(OwnedRecord):
    """A deal with a contact, moving through the pipeline; its rules live in the services."""

    name = models.CharField(_("name"), max_length=200)
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("contact")
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("stage")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=OpportunityStatus.choices,
        default=OpportunityStatus.OPEN,
    )
    win_reason = models.ForeignKey(
        WinReason,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opportunities",
        verbose_name=_("win reason"),
        db_index=False,
    )
    loss_reason = models.ForeignKey(
        LossReason,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opportunities",
        verbose_name=_("loss reason"),
        db_index=False,
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    #: When it entered its current stage: the board shows the time in stage.
    stage_entered_at = models.DateTimeField(_("in stage since"))
    #: Whether ``stage`` is one of the active stages (kept by the services, also when the admin
    #: changes the active stages): ensure's lookup is then one indexed single-table query.
    in_active_stage = models.BooleanField(_("in an active stage"), default=False, editable=False)
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opportunities",
        verbose_name=_("from lead"),
        db_index=False,
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(fields=["owner", "archived_at"]),
            models.Index(fields=["contact", "stage"]),
            models.Index(fields=["status", "closed_at"]),
            models.Index(fields=["created_at"]),
            models.Index(
                fields=["contact", "id"],
                condition=Q(in_active_stage=True, archived_at__isnull=True),
                name="opp_engaged_contact_idx",
            ),
            # Most deals have no reason (open) and no lead: index only those that do.
            *(
                models.Index(
                    fields=[name], condition=Q(**{f"{name}__isnull": False}), name=f"opp_{name}_idx"
                )
                for name in ("win_reason", "loss_reason", "lead")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(win_reason__isnull=True) | Q(status=OpportunityStatus.WON),
                name="opportunity_win_reason_only_won",
            ),
            models.CheckConstraint(
                condition=Q(loss_reason__isnull=True) | Q(status=OpportunityStatus.LOST),
                name="opportunity_loss_reason_only_lost",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, status=OpportunityStatus.OPEN)
                | (Q(closed_at__isnull=False) & ~Q(status=OpportunityStatus.OPEN)),
                name="opportunity_closed_at_follows_status",
            ),
        ]

    def __str__(self):
        return self.name


class OpportunityShare(models.Model):
    """An opportunity shared with a user (by its owner or an admin): they can see and work it."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="opportunity_shares"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "opportunity"], name="opportunity_share_unique")
        ]

    def __str__(self):
        return f"{self.opportunity_id} → {self.user_id}"


class AccessReason(models.TextChoices):
    SHARED = "shared", _("An opportunity was shared with them")
    ASSIGNED = "assigned", _("They were assigned an opportunity")


class ContactAccess(models.Model):
    """Access to a contact a user does not own, granted by a sharing rule through one of its
    opportunities. One row per (user, contact, reason, opportunity), so that unsharing or
    reassigning removes exactly what that sharing or assignment granted."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="access_grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_grants"
    )
    reason = models.CharField(max_length=10, choices=AccessReason.choices)
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="contact_grants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "contact", "reason", "opportunity"], name="contact_access_unique"
            )
        ]
        indexes = [models.Index(fields=["opportunity", "user"])]

    def __str__(self):
        return f"{self.user_id} sees contact {self.contact_id} ({self.reason})"


class StageChange(models.Model):
    """One row per stage an opportunity entered (creation included): the funnel, the stage at
    which deals were lost and the win/loss reports aggregate these rows in SQL."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=OpportunityStatus.choices)
    win_reason = models.ForeignKey(
        WinReason, on_delete=models.PROTECT, null=True, blank=True, related_name="stage_changes"
    )
    loss_reason = models.ForeignKey(
        LossReason, on_delete=models.PROTECT, null=True, blank=True, related_name="stage_changes"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["to_stage", "at"]), models.Index(fields=["status", "at"])]

    def __str__(self):
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class OpportunityEvent(models.TextChoices):
    """Event kinds written by the opportunities services (``Event.kind``)."""

    STAGE_CHANGED = "stage_changed", _("Stage changed")
    SETTINGS_CHANGED = "opportunity_settings_changed", _("Opportunity defaults changed")
    STAGE_LIST_CHANGED = "stage_list_changed", _("Pipeline changed")
    WIN_REASON_CHANGED = "win_reason_changed", _("Win reason changed")
    LOSS_REASON_CHANGED = "loss_reason_changed", _("Loss reason changed")
    SHARED = "shared", _("Shared")
    UNSHARED = "unshared", _("Unshared")
