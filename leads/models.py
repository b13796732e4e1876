from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.models import CompanySize, OwnedRecord


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    WORKING = "working", _("Working")
    QUALIFIED = "qualified", _("Qualified")
    UNQUALIFIED = "unqualified", _("Unqualified")
    CONVERTED = "converted", _("Converted")


class Answer(models.TextChoices):
    """Budget, Authority and Need answers of the discovery call."""

    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class Timeline(models.TextChoices):
    """When the prospect plans to buy (in this order: sooner first)."""

    LT_3M = "lt_3m", _("Within 3 months")
    M3_6 = "3_6m", _("In 3 to 6 months")
    M6_12 = "6_12m", _("In 6 to 12 months")
    GT_12M = "gt_12m", _("In more than 12 months")
    UNKNOWN = "unknown", _("Unknown")


class AdminListItem(models.Model):
    """A row of an admin-ordered list (reasons, ratings): archived, never deleted, while in use."""

    order = models.PositiveIntegerField(_("order"), default=0)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        """Default names are stored in the install language; show them in the user's."""
        return gettext(self.name)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class DisqualificationReason(AdminListItem):
    """An admin-defined reason. Archived (never deleted) once a lead has used it."""

    name = models.CharField(_("name"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(AdminListItem.Meta):
        verbose_name = _("disqualification reason")
        verbose_name_plural = _("disqualification reasons")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(archived_at__isnull=True),
                name="disq_reason_active_name_ci_unique",
                violation_error_message=_("A reason with this name already exists."),
            )
        ]


class Rating(AdminListItem):
    """How promising a prospect is, and when to follow up.

    A rating that ``applies_tag`` is a *classification*: it becomes the prospect's rating, shown as
    a coloured tag. One that does not is an *outcome*: it only decides whether and when the next
    follow-up task is created, and leaves the classification as it was.
    """

    name = models.CharField(_("name"), max_length=60)
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#1d5fa8",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1d5fa8."))],
    )
    icon = models.CharField(_("icon"), max_length=8, blank=True, default="●")
    applies_tag = models.BooleanField(_("applies a tag"), default=True)
    follow_up_days = models.PositiveSmallIntegerField(
        _("follow-up in days"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(3650)],
        help_text=_("Empty: no follow-up task."),
    )

    class Meta(AdminListItem.Meta):
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(archived_at__isnull=True),
                name="rating_active_name_ci_unique",
                violation_error_message=_("A rating with this name already exists."),
            )
        ]


class LeadSettings(models.Model):
    """Single-row settings of the leads app (see ``leads.services.lead_settings_get``)."""

    ask_disqualification_reason = models.BooleanField(
        _("ask users for a disqualification reason"), default=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("lead settings")
        verbose_name_plural = _("lead settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="lead_settings_singleton")]

    def __str__(self):
        return str(_("Lead settings"))


class Lead(OwnedRecord):
    """A prospect not yet qualified; its workflow lives in leads.services.

    Its score lives in ``LeadScore`` (one narrow row per lead), so that a rescore never rewrites
    lead rows. Indexes: no duplicates: the foreign keys get no automatic index
    (``db_index=False``), only the ones in ``Meta.indexes``; and the keys most leads leave empty
    index their set rows only, which serves every lookup by id (``= id`` or ``IN (…)`` never
    matches NULL). Case-insensitive lookups compare ``lower()`` with ``lower()``, which the
    ``Lower(...)`` indexes serve (``__iexact`` compiles to ``UPPER()`` and would not).
    """

    # The same owner as OwnedRecord's, without its own index: (owner, archived_at) serves it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
        db_index=False,
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    company_size = models.CharField(
        _("company size"), max_length=10, choices=CompanySize.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    disqualification_reason = models.ForeignKey(
        DisqualificationReason,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("disqualification reason"),
        db_index=False,
    )
    disqualification_note = models.TextField(_("disqualification note"), blank=True)
    disqualified_at = models.DateTimeField(_("disqualified at"), null=True, blank=True)
    revisit_on = models.DateField(_("revisit on"), null=True, blank=True)
    rating = models.ForeignKey(
        Rating,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("rating"),
        db_index=False,
    )
    budget = models.CharField(
        _("budget"), max_length=10, choices=Answer.choices, default=Answer.UNKNOWN
    )
    authority = models.CharField(
        _("authority"), max_length=10, choices=Answer.choices, default=Answer.UNKNOWN
    )
    need = models.CharField(
        _("need"), max_length=10, choices=Answer.choices, default=Answer.UNKNOWN
    )
    timeline = models.CharField(
        _("timeline"), max_length=10, choices=Timeline.choices, default=Timeline.UNKNOWN
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_account = models.ForeignKey(
        "crm.Account",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    converted_contact = models.ForeignKey(
        "crm.Contact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["owner", "archived_at"]),
            # The list's sorts (leads.filters.LeadOrdering): the key, then the id.
            models.Index(fields=["status", "id"], name="lead_status_id_idx"),
            models.Index(fields=["created_at"]),
            models.Index(fields=["revisit_on", "id"], name="lead_revisit_id_idx"),
            # Also the duplicate check (lower(x) = lower(…)).
            models.Index(Lower("last_name"), "id", name="lead_last_name_lower_idx"),
            models.Index(Lower("company"), "id", name="lead_company_lower_idx"),
            # The duplicate check, the source filter.
            models.Index(Lower("email"), name="lead_email_lower_idx"),
            models.Index(Lower("source"), name="lead_source_lower_idx"),
            # Foreign keys most leads leave empty: only the set rows are indexed.
            models.Index(
                fields=["disqualification_reason"],
                condition=Q(disqualification_reason__isnull=False),
                name="lead_disq_reason_idx",
            ),
            models.Index(
                fields=["rating"], condition=Q(rating__isnull=False), name="lead_rating_idx"
            ),
            models.Index(
                fields=["converted_account"],
                condition=Q(converted_account__isnull=False),
                name="lead_converted_account_idx",
            ),
            models.Index(
                fields=["converted_contact"],
                condition=Q(converted_contact__isnull=False),
                name="lead_converted_contact_idx",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def score_row(self) -> "LeadScore":
        """The lead's score row: the stored one (select_related("lead_score") avoids a query),
        or a new unsaved one with the defaults (an unsaved lead, or a row not written yet)."""
        try:
            return self.lead_score
        except LeadScore.DoesNotExist:
            self.lead_score = row = LeadScore(score=0, sales_ready=False)
            return row

    @property
    def score(self) -> int:
        """Kept by ``scoring.services``: the sum of the points of the matching criteria."""
        return self.score_row().score

    @property
    def sales_ready(self) -> bool:
        return self.score_row().sales_ready

    @property
    def is_frozen(self) -> bool:
        return self.status == LeadStatus.UNQUALIFIED and self.revisit_on is not None

    @property
    def is_read_only(self) -> bool:
        return self.status == LeadStatus.CONVERTED


class LeadScore(models.Model):
    """A lead's score and sales-ready flag, kept by ``scoring.services``: one row per lead.

    A narrow table of its own, so that a rescore (which rewrites most scores) writes 40-byte rows
    with two or three index entries each, and never the wide lead rows with their many indexes.
    Every lead has its row: the database inserts it (0, not sales-ready) with the lead (a trigger,
    migration 0008), whoever inserts the lead (services, imports, fixtures, SQL).
    """

    lead = models.OneToOneField(
        Lead,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="lead_score",
        verbose_name=_("lead"),
    )
    score = models.IntegerField(_("score"), default=0)
    sales_ready = models.BooleanField(_("sales-ready"), default=False)

    class Meta:
        verbose_name = _("lead score")
        verbose_name_plural = _("lead scores")
        indexes = [
            # Sort by score (then id: leads.filters.LeadOrdering), score_min / score_max.
            models.Index(fields=["score", "lead"], name="lead_score_score_idx"),
            # The sales-ready filter (a minority of leads), sorted by score.
            models.Index(
                fields=["score", "lead"],
                condition=Q(sales_ready=True),
                name="lead_score_ready_idx",
            ),
        ]

    def __str__(self):
        return f"{self.lead_id}: {self.score}"


class LeadDisqualification(models.Model):
    """One row per disqualification decision: the history the insights report aggregates.

    Requalifying keeps the row; the owner and source are copied so reports stay true to the
    moment of the decision.
    """

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="disqualifications")
    reason = models.ForeignKey(
        DisqualificationReason, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    source = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    revisit_on = models.DateField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    # Set when the lead is disqualified again while still unqualified (a changed reason):
    # the report counts the latest decision only.
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"]),
            models.Index(fields=["owner", "at"]),
            # The report's rows (the standing decisions in a date range) with every column it
            # groups or filters by: an index-only scan of the range, no visit to the table
            # (through ``at`` alone, 57,000 decisions of a year were 57,000 random table reads:
            # 33-58 ms on the benchmark dataset, 11 ms this way).
            models.Index(
                fields=["at"],
                include=["lead", "reason", "owner", "source"],
                condition=Q(superseded_at__isnull=True),
                name="disq_standing_at_idx",
            ),
        ]

    def __str__(self):
        return f"{self.lead_id} @ {self.at:%Y-%m-%d}"


class LeadEvent(models.TextChoices):
    """Event kinds written by the leads services (``Event.kind``)."""

    DISQUALIFIED = "disqualified", _("Disqualified")
    REQUALIFIED = "requalified", _("Requalified")
    REVISIT_DUE = "revisit_due", _("Back from frozen")
    CONVERTED = "converted", _("Converted")
    IMPORTED = "imported", _("Imported")
    CLASSIFIED = "classified", _("Classified")
    QUALIFIED = "qualified", _("Qualified")
    RATING_CHANGED = "rating_changed", _("Rating changed")
    SETTINGS_CHANGED = "lead_settings_changed", _("Lead settings changed")
    REASON_CHANGED = "disqualification_reason_changed", _("Disqualification reason changed")
