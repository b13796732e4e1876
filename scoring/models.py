from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ScoredField(models.TextChoices):
    BUDGET = "budget", _("Budget")
    AUTHORITY = "authority", _("Authority")
    NEED = "need", _("Need")
    TIMELINE = "timeline", _("Timeline")
    COUNTRY = "country", _("Country")
    INDUSTRY = "industry", _("Industry")
    COMPANY_SIZE = "company_size", _("Company size")
    TITLE = "title", _("Job title")
    SOURCE = "source", _("Source")


class Operator(models.TextChoices):
    EQ = "eq", _("is")
    IN = "in", _("is one of")
    CONTAINS = "contains", _("contains")
    GTE = "gte", _("is at least")
    LTE = "lte", _("is at most")


class Criterion(models.Model):
    """A scoring rule: when ``field operator value`` holds for a lead, it scores ``points``."""

    name = models.CharField(_("name"), max_length=100)
    field = models.CharField(_("field"), max_length=20, choices=ScoredField.choices)
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices)
    value = models.CharField(
        _("value"),
        max_length=200,
        help_text=_("For “is one of”, separate the values with commas."),
    )
    points = models.IntegerField(
        _("points"), validators=[MinValueValidator(-1000), MaxValueValidator(1000)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("scoring criterion")
        verbose_name_plural = _("scoring criteria")

    def __str__(self):
        return self.name


class ScoringSettings(models.Model):
    """Single row: the threshold, auto-qualify, and a version bumped on every rule change."""

    threshold = models.IntegerField(
        _("threshold"),
        default=100,
        validators=[MinValueValidator(-100000), MaxValueValidator(100000)],
    )
    auto_qualify = models.BooleanField(_("auto-qualify at the threshold"), default=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="scoring_settings_singleton")]

    def __str__(self):
        return str(_("Scoring settings"))


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RescoreJob(models.Model):
    """One rescoring of every lead, run by a Celery worker in chunks (progress: processed/total)."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    processed = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        "crm.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"rescore #{self.pk} {self.status}"
