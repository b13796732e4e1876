from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
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
    #: An open deal in this stage "rots" after this many idle days with nothing scheduled.
    rot_days = models.PositiveSmallIntegerField(
        _("rots after (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("Empty: deals in this stage never rot."),
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


class BuyNowSkin(models.TextChoices):
    """The looks of the public checkout page (``templates/opportunities/buy/``)."""

    CLASSIC = "classic", _("Classic")
    MINIMAL = "minimal", _("Minimal")
    BOLD = "bold", _("Bold")


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
    # Buy now
    buy_now_expire_days = models.PositiveSmallIntegerField(
        _("buy-now links expire after (days)"),
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    buy_now_skin = models.CharField(
        _("checkout skin"), max_length=20, choices=BuyNowSkin.choices, default=BuyNowSkin.CLASSIC
    )
    buy_now_win_reason = models.ForeignKey(
        WinReason,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("buy-now win reason"),
        help_text=_("Given to the opportunity when a prospect buys through a buy-now link."),
    )
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
            # The owned half of a rep's visible deals, read from the index alone.
            models.Index(fields=["owner", "id"], name="opp_owner_id_idx"),
            # The board: the newest live deals of each stage.
            models.Index(
                fields=["stage", "-stage_entered_at", "-id"],
                condition=Q(archived_at__isnull=True),
                name="opp_board_idx",
            ),
            # A rep's board: the newest of their own live deals in each stage, and each
            # stage's count and amount total of them, from the index alone.
            models.Index(
                fields=["owner", "stage", "-stage_entered_at", "-id"],
                include=["amount"],
                condition=Q(archived_at__isnull=True),
                name="opp_owner_board_idx",
            ),
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
    BUY_NOW_LINK_CREATED = "buy_now_link_created", _("Buy-now link created")
    BUY_NOW_CLICKED = "buy_now_clicked", _("Clicked buy now")
    BUY_NOW_PURCHASED = "buy_now_purchased", _("Purchased via buy now")
    PAYMENT_CONFIRMED = "payment_confirmed", _("Payment confirmed")
    TRIGGER_ACTIONS_CHANGED = "trigger_actions_changed", _("Automation changed")
    TRIGGER_ACTION_RAN = "trigger_action_ran", _("Automation ran")
    SEQUENCE_CHANGED = "sequence_changed", _("Sequence changed")
    ENROLLED = "enrolled", _("Enrolled in a sequence")
    ENROLLMENT_STOPPED = "enrollment_stopped", _("Sequence stopped")
    SEQUENCE_STEP_RAN = "sequence_step_ran", _("Sequence step ran")


# --- Buy now -------------------------------------------------------------------------------------

CURRENCY_VALIDATOR = RegexValidator(
    r"^[A-Z]{3}$", _("Enter a three-letter currency code, such as EUR or USD.")
)


class BuyNowLinkStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CLICKED = "clicked", _("Clicked")
    PURCHASED = "purchased", _("Purchased")
    EXPIRED = "expired", _("Expired")


class BuyNowLink(models.Model):
    """A link a rep sends a prospect to buy ``product`` for ``amount``. The public URL carries
    ``key`` signed (``opportunities.services_buynow.link_token``); ``key`` alone is never enough."""

    opportunity = models.ForeignKey(
        Opportunity,
        on_delete=models.PROTECT,
        related_name="buy_now_links",
        verbose_name=_("opportunity"),
    )
    key = models.CharField(max_length=64, unique=True, editable=False)
    product = models.CharField(_("product"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, validators=[CURRENCY_VALIDATOR])
    skin = models.CharField(_("checkout skin"), max_length=20, choices=BuyNowSkin.choices)
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    first_clicked_at = models.DateTimeField(_("first clicked at"), null=True, blank=True)
    click_count = models.PositiveIntegerField(_("clicks"), default=0)
    purchased_at = models.DateTimeField(_("purchased at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("buy-now link")
        verbose_name_plural = _("buy-now links")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="buy_now_amount_positive")
        ]

    def __str__(self):
        return self.product

    def status_at(self, now) -> str:
        if self.purchased_at is not None:
            return BuyNowLinkStatus.PURCHASED
        if self.expires_at <= now:
            return BuyNowLinkStatus.EXPIRED
        if self.first_clicked_at is not None:
            return BuyNowLinkStatus.CLICKED
        return BuyNowLinkStatus.ACTIVE


class OrderStatus(models.TextChoices):
    TO_INVOICE = "to_invoice", _("To invoice")
    PAID = "paid", _("Paid")


class Order(models.Model):
    """What a prospect bought through a link. One per link, held by the database (one-to-one):
    a replayed or concurrent purchase finds it instead of making a second one."""

    link = models.OneToOneField(
        BuyNowLink, on_delete=models.PROTECT, related_name="order", verbose_name=_("link")
    )
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, related_name="orders", verbose_name=_("opportunity")
    )
    product = models.CharField(_("product"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    buyer_name = models.CharField(_("name"), max_length=200)
    buyer_email = models.EmailField(_("email"))
    provider = models.CharField(_("payment provider"), max_length=40)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices)
    payment_reference = models.CharField(_("payment reference"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self):
        return f"{self.product} ({self.buyer_email})"


class PaymentWebhookEvent(models.Model):
    """Each processor event id is handled once: a replay is refused by the unique key."""

    event_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=100)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.event_id


# --- Sequences -----------------------------------------------------------------------------------


class Sequence(models.Model):
    """Named follow-up steps; enrolling a contact or lead schedules them from that day."""

    name = models.CharField(_("name"), max_length=100)
    stop_when_closed = models.BooleanField(
        _("stop when the opportunity is won or lost"),
        default=True,
        help_text=_("Enrollments started for an opportunity stop when it is won or lost."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")
        constraints = [
            _active_name_unique(
                "sequence_active_name_ci_unique", _("A sequence with this name already exists.")
            )
        ]

    def __str__(self):
        return self.name


class StepKind(models.TextChoices):
    TASK = "task", _("Task for the owner")
    EMAIL = "email", _("Email to the contact or lead")


class SequenceStep(models.Model):
    """One step, ``day_offset`` days after enrollment. Edited in place by position, so the runs
    already made keep pointing at it; a removed step is archived."""

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    day_offset = models.PositiveSmallIntegerField(
        _("day"), validators=[MaxValueValidator(365)], help_text=_("Days after enrollment.")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=StepKind.choices)
    title = models.CharField(_("title or subject"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("sequence step")
        verbose_name_plural = _("sequence steps")
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "position"],
                condition=Q(archived_at__isnull=True),
                name="sequence_step_position_unique",
            )
        ]

    def __str__(self):
        return self.title


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    STOPPED = "stopped", _("Stopped")


class Enrollment(models.Model):
    """A contact or a lead going through a sequence: at most one active per sequence (held by
    partial unique constraints), so a replayed trigger never enrolls twice."""

    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="enrollments")
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="enrollments"
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.PROTECT, null=True, blank=True, related_name="enrollments"
    )
    #: The deal it was started for (a buy-now trigger): it stops when that deal closes.
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, null=True, blank=True, related_name="enrollments"
    )
    #: Who gets the task steps.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    started_on = models.DateField(_("started on"))
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    stop_reason = models.CharField(_("why it stopped"), max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False, lead__isnull=True)
                | Q(contact__isnull=True, lead__isnull=False),
                name="enrollment_contact_xor_lead",
            ),
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=Q(status="active", contact__isnull=False),
                name="enrollment_one_active_per_contact",
            ),
            models.UniqueConstraint(
                fields=["sequence", "lead"],
                condition=Q(status="active", lead__isnull=False),
                name="enrollment_one_active_per_lead",
            ),
        ]
        indexes = [
            models.Index(
                fields=["opportunity"],
                condition=Q(status="active", opportunity__isnull=False),
                name="enrollment_active_opp_idx",
            ),
        ]

    def __str__(self):
        return f"{self.sequence_id}: {self.contact_id or self.lead_id}"


class StepRunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class StepRun(models.Model):
    """One step of one enrollment, made when the contact or lead is enrolled: the beat job runs
    the pending ones that are due, each at most once (unique per enrollment and step)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="runs")
    step = models.ForeignKey(SequenceStep, on_delete=models.PROTECT, related_name="runs")
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        max_length=10, choices=StepRunStatus.choices, default=StepRunStatus.PENDING
    )
    task = models.OneToOneField(
        "crm.Task", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ran_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    #: The worker's claim, as on ``TriggerRun``.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [models.UniqueConstraint(fields=["enrollment", "step"], name="step_run_once")]
        indexes = [
            models.Index(
                fields=["due_on", "id"],
                condition=Q(status="pending"),
                name="step_run_pending_due_idx",
            ),
            # What a worker claims next: pending, or running past its lease.
            models.Index(
                fields=["id"],
                condition=Q(status__in=["pending", "running"]),
                name="step_run_open_idx",
            ),
        ]

    def __str__(self):
        return f"{self.enrollment_id}/{self.step_id}"


# --- Trigger actions (Settings > Automation) -----------------------------------------------------


class TriggerEvent(models.TextChoices):
    BUY_NOW_CLICKED = "buy_now_clicked", _("Clicked buy now")
    BUY_NOW_PURCHASED = "buy_now_purchased", _("Purchased via buy now")
    LEAD_DISQUALIFIED = "lead_disqualified", _("Lead disqualified")


class TriggerActionKind(models.TextChoices):
    APPLY_TAG = "apply_tag", _("Apply a tag to the contact")
    EMAIL_OWNER = "email_owner", _("Email the owner")
    START_SEQUENCE = "start_sequence", _("Start a sequence")


class TriggerAction(models.Model):
    """What automation does when ``event`` happens. Removing one archives it: its runs stay."""

    event = models.CharField(_("when"), max_length=30, choices=TriggerEvent.choices)
    action = models.CharField(_("do"), max_length=30, choices=TriggerActionKind.choices)
    tag = models.ForeignKey(
        "crm.Tag",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("tag"),
    )
    sequence = models.ForeignKey(
        Sequence,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="trigger_actions",
        verbose_name=_("sequence"),
    )
    #: Narrows "lead disqualified" to these reasons; empty: any reason.
    reasons = models.ManyToManyField(
        "leads.DisqualificationReason",
        blank=True,
        related_name="+",
        verbose_name=_("only for these reasons"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    class Meta:
        ordering = ["event", "id"]
        verbose_name = _("trigger action")
        verbose_name_plural = _("trigger actions")
        constraints = [
            models.CheckConstraint(
                condition=Q(action="apply_tag", tag__isnull=False) | ~Q(action="apply_tag"),
                name="trigger_action_tag_needed",
            ),
            models.CheckConstraint(
                condition=Q(action="start_sequence", sequence__isnull=False)
                | ~Q(action="start_sequence"),
                name="trigger_action_sequence_needed",
            ),
        ]

    def __str__(self):
        return f"{self.get_event_display()}: {self.get_action_display()}"


class TriggerRun(models.Model):
    """The ledger that makes each (occurrence, action) run at most once: written in the
    transaction of the occurrence (first click, purchase, disqualification), unique per action
    and occurrence, claimed by the worker before it acts."""

    action = models.ForeignKey(TriggerAction, on_delete=models.PROTECT, related_name="runs")
    #: What happened, e.g. ``link:12`` (first click), ``order:5``, ``event:991``.
    occurrence = models.CharField(max_length=60)
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=StepRunStatus.choices, default=StepRunStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ran_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    #: When a worker last claimed the run and how many times: a run left ``running`` by a worker
    #: that died is claimed again once its lease is over, at most ``TRIGGER_RUN_MAX_ATTEMPTS``.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["action", "occurrence"], name="trigger_run_once")
        ]
        indexes = [
            # What a worker claims next: pending, or running past its lease.
            models.Index(
                fields=["id"],
                condition=Q(status__in=["pending", "running"]),
                name="trigger_run_open_idx",
            )
        ]

    def __str__(self):
        return f"{self.action_id} @ {self.occurrence}"
