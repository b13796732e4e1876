from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    REP = "rep", _("Sales rep")


class CrmUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A CRM user. Users are deactivated, never deleted: their records stay."""

    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.REP)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    objects = CrmUserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.is_superuser)

    def __str__(self):
        return self.get_full_name() or self.username


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(
        User, related_name="teams", blank=True, verbose_name=_("members")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="team_name_ci_unique",
                violation_error_message=_("A team with this name already exists."),
            )
        ]

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="tag_name_ci_unique",
                violation_error_message=_("A tag with this name already exists."),
            )
        ]

    def __str__(self):
        return self.name


class CompanySize(models.TextChoices):
    MICRO = "1-10", _("1–10 employees")
    SMALL = "11-50", _("11–50 employees")
    MEDIUM = "51-200", _("51–200 employees")
    LARGE = "201-1000", _("201–1,000 employees")
    ENTERPRISE = "1000+", _("More than 1,000 employees")


class OwnedRecord(models.Model):
    """Fields shared by every owned, archivable record."""

    owner = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    class Meta:
        abstract = True


class Account(OwnedRecord):
    """A company."""

    name = models.CharField(_("name"), max_length=200)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    company_size = models.CharField(
        _("company size"), max_length=10, choices=CompanySize.choices, blank=True
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            models.Index(fields=["owner", "archived_at"]),
            models.Index(Lower("name"), name="account_name_lower_idx"),
            models.Index(fields=["industry"]),
            models.Index(fields=["country"]),
            models.Index(fields=["company_size"]),
        ]

    def __str__(self):
        return self.name


class Contact(OwnedRecord):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("account"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    rating = models.ForeignKey(
        "leads.Rating",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("rating"),
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["owner", "archived_at"]),
            # The owned half of a rep's visible contacts, read from the index alone.
            models.Index(fields=["owner", "id"], name="contact_owner_id_idx"),
            models.Index(Lower("email"), name="contact_email_lower_idx"),
            models.Index(Lower("last_name"), name="contact_last_name_lower_idx"),
            # The contact list's default order (live contacts): its first page is an index
            # scan, not a sort of every contact (87 ms on 50,000 for an admin).
            models.Index(
                fields=["last_name", "first_name", "id"],
                condition=models.Q(archived_at__isnull=True),
                name="contact_live_name_order_idx",
            ),
            # A rep's contact list sorts their visible ids by name: each id's live row and
            # name come from this index alone, never from the table (crm.web.CappedPaginator
            # reads a page's ids first, then their rows).
            models.Index(
                fields=["id"],
                include=["last_name", "first_name"],
                condition=models.Q(archived_at__isnull=True),
                name="contact_live_id_names_idx",
            ),
        ]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self):
        return self.name


class TaskKind(models.TextChoices):
    TODO = "todo", _("To-do")
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    FOLLOW_UP = "follow_up", _("Follow-up")


class Task(models.Model):
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=TaskKind.choices, default=TaskKind.TODO
    )
    due_on = models.DateField(_("due on"))
    owner = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="tasks", verbose_name=_("owner")
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("lead"),
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("contact"),
    )
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("opportunity"),
    )
    done = models.BooleanField(_("done"), default=False)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    #: Lower is more urgent; follow-ups take it from the rating's order (the agenda sorts by it).
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    #: An automatic follow-up: at most one is open per lead or contact.
    is_follow_up = models.BooleanField(_("automatic follow-up"), default=False)
    #: The event that caused this task: the idempotency key of automatic tasks.
    source_event = models.OneToOneField(
        "Event", on_delete=models.PROTECT, null=True, blank=True, related_name="caused_task"
    )
    #: Set when a newer classification replaced this open follow-up (it is then closed).
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(is_follow_up=True, done=False, lead__isnull=False),
                name="task_one_open_follow_up_per_lead",
            ),
            models.UniqueConstraint(
                fields=["contact"],
                condition=Q(is_follow_up=True, done=False, contact__isnull=False),
                name="task_one_open_follow_up_per_contact",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "done", "due_on"]),
            models.Index(fields=["due_on"]),
            # The next activity of a record (crm/activity.py): its open tasks by due date.
            *(
                models.Index(
                    fields=[name, "due_on"],
                    condition=Q(done=False, archived_at__isnull=True, **{f"{name}__isnull": False}),
                    name=f"task_open_{name}_due_idx",
                )
                for name in ("lead", "contact", "opportunity")
            ),
        ]

    def __str__(self):
        return self.title


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    OWNER_CHANGED = "owner_changed", _("Owner changed")
    ARCHIVED = "archived", _("Archived")
    COMPLETED = "completed", _("Completed")
    REOPENED = "reopened", _("Reopened")
    USER_CREATED = "user_created", _("User created")
    USER_UPDATED = "user_updated", _("User updated")
    USER_DEACTIVATED = "user_deactivated", _("User deactivated")
    TEAM_CHANGED = "team_changed", _("Team changed")
    SUPERSEDED = "superseded", _("Superseded")


class AppendOnlyError(Exception):
    pass


class EventQuerySet(models.QuerySet):
    """Bulk writes would bypass ``Event.save``/``delete``: they are refused as well."""

    def update(self, **kwargs):
        raise AppendOnlyError("Events are append-only")

    def delete(self):
        raise AppendOnlyError("Events are append-only")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Events are append-only")


class Event(models.Model):
    """Append-only audit trail: one row per state change. Never updated, never deleted."""

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=40)
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )
    task = models.ForeignKey(
        Task,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )
    lead = models.ForeignKey(
        "leads.Lead",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )
    subject_user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    data = models.JSONField(default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        # An event concerns one or two records: its other links are NULL. Partial indexes keep
        # only the rows that have the link (smaller indexes, and an insert touches two or three
        # instead of eight), ordered by id for the timelines (newest first).
        indexes = [
            models.Index(
                fields=[name, "id"],
                condition=Q(**{f"{name}__isnull": False}),
                name=f"event_{name}_idx",
            )
            for name in (
                "actor",
                "account",
                "contact",
                "task",
                "lead",
                "opportunity",
                "subject_user",
                "team",
            )
        ] + [
            # The latest logged call or note of a deal (its "last activity": rotting).
            models.Index(
                fields=["opportunity", "at"],
                condition=Q(kind="activity_logged", opportunity__isnull=False),
                name="event_opp_logged_idx",
            )
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Events are append-only")

    def __str__(self):
        return f"{self.kind} @ {self.at:%Y-%m-%d %H:%M}"


class ReminderDigest(models.Model):
    """One row per user and day a reminder digest was sent: makes the morning job idempotent."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    on = models.DateField()
    task_count = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "on"], name="reminder_digest_once_a_day")
        ]

    def __str__(self):
        return f"{self.user_id} {self.on}"


class ListKey(models.TextChoices):
    """The list pages a view can be saved for."""

    LEADS = "leads", _("Leads")
    CONTACTS = "contacts", _("Contacts")
    OPPORTUNITIES = "opportunities", _("Opportunities")
    ACCOUNTS = "accounts", _("Accounts")
    TASKS = "tasks", _("Tasks")


class SavedView(models.Model):
    """A named list query (filters and sort), shown as a tab above its list.

    ``user`` is the rep who saved it; NULL is a default view an admin set for everyone.
    ``query`` holds only parameters the list's FilterSet knows, re-encoded (never ``page``).
    """

    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_views",
        verbose_name=_("user"),
    )
    list_key = models.CharField(_("list"), max_length=20, choices=ListKey.choices)
    name = models.CharField(_("name"), max_length=60)
    query = models.CharField(_("query"), max_length=1000, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["list_key", "order", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints = [
            models.UniqueConstraint(
                "user",
                "list_key",
                Lower("name"),
                condition=Q(user__isnull=False),
                name="saved_view_name_per_user_unique",
                violation_error_message=_("You already have a view with this name."),
            ),
            models.UniqueConstraint(
                "list_key",
                Lower("name"),
                condition=Q(user__isnull=True),
                name="saved_view_default_name_unique",
                violation_error_message=_("A default view with this name already exists."),
            ),
        ]
        indexes = [models.Index(fields=["list_key", "user"], name="saved_view_list_user_idx")]

    @property
    def is_default(self) -> bool:
        return self.user_id is None

    def __str__(self):
        return self.name
