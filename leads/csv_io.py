"""CSV export and import of leads.

Import is two-step: ``csv_parse`` validates every row (a preview); ``leads.services.lead_import``
then writes the valid rows in one transaction. A row is imported whole or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import CompanySize, User
from leads.models import Answer, Lead, Timeline
from leads.services import LEAD_FIELDS

EXPORT_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "company",
    "title",
    "email",
    "phone",
    "source",
    "industry",
    "country",
    "company_size",
    "budget",
    "authority",
    "need",
    "timeline",
    "score",
    "status",
    "owner",
    "disqualification_reason",
    "disqualification_note",
    "revisit_on",
    "created_at",
]
IMPORT_COLUMNS = list(LEAD_FIELDS)  # owner is a username in the file
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000


class _Echo:
    def write(self, value):
        return value


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in exported text."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def csv_export_rows(leads: QuerySet[Lead]) -> Iterator[str]:
    """Stream the leads as CSV lines, in chunks, with one query per chunk (no N+1)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    rows = leads.values_list(
        "id",
        "first_name",
        "last_name",
        "company",
        "title",
        "email",
        "phone",
        "source",
        "industry",
        "country",
        "company_size",
        "budget",
        "authority",
        "need",
        "timeline",
        "lead_score__score",
        "status",
        "owner__username",
        "disqualification_reason__name",
        "disqualification_note",
        "revisit_on",
        "created_at",
    ).order_by("id")
    for row in rows.iterator(chunk_size=2000):
        *head, revisit_on, created_at = row
        yield writer.writerow(
            [csv_safe(v) for v in head]
            + [revisit_on.isoformat() if revisit_on else "", created_at.isoformat()]
        )


class LeadImportRowForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100)
    company = forms.CharField(max_length=200, required=False)
    title = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    source = forms.CharField(max_length=100, required=False)
    industry = forms.CharField(max_length=100, required=False)
    country = forms.CharField(max_length=100, required=False)
    company_size = forms.ChoiceField(choices=[("", ""), *CompanySize.choices], required=False)
    budget = forms.ChoiceField(choices=[("", ""), *Answer.choices], required=False)
    authority = forms.ChoiceField(choices=[("", ""), *Answer.choices], required=False)
    need = forms.ChoiceField(choices=[("", ""), *Answer.choices], required=False)
    timeline = forms.ChoiceField(choices=[("", ""), *Timeline.choices], required=False)
    owner = forms.CharField(
        required=False,
        help_text=gettext_lazy("Username of the owner; empty means you."),
    )

    def __init__(self, *args, owners: dict[str, User], **kwargs):
        self.owners = owners
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        for name in ("budget", "authority", "need", "timeline"):
            if not data.get(name):
                data[name] = "unknown"
        return data

    def clean_owner(self):
        username = self.cleaned_data["owner"].strip()
        if not username:
            return None
        user = self.owners.get(username.lower())
        if user is None:
            raise forms.ValidationError(
                _("No active user with the username “%(username)s”."), params={"username": username}
            )
        return user


@dataclass
class ImportRow:
    line: int
    data: dict | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    errors: list[str] = field(default_factory=list)  # file-level problems

    @property
    def valid_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if r.valid]

    @property
    def invalid_rows(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.valid]


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _header(name: str) -> str:
    return "_".join((name or "").strip().lower().replace("-", " ").split())


def csv_parse(content: bytes) -> ImportPreview:
    """Validate an uploaded CSV; nothing is written."""
    if len(content) > MAX_IMPORT_BYTES:
        return ImportPreview(rows=[], errors=[_("The file is larger than 5 MB.")])
    text = _decode(content)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return ImportPreview(rows=[], errors=[_("The file is empty.")])
    columns = [_header(h) for h in header]
    if "last_name" not in columns:
        return ImportPreview(
            rows=[],
            errors=[_("The file needs a header row with at least a “last_name” column.")],
        )
    owners = {u.username.lower(): u for u in User.objects.filter(is_active=True)}
    rows: list[ImportRow] = []
    try:
        for line, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                return ImportPreview(
                    rows=[],
                    errors=[_("A file can have at most 10,000 rows.")],
                )
            raw = {
                col: val.strip()
                for col, val in zip(columns, values, strict=False)
                if col in IMPORT_COLUMNS
            }
            form = LeadImportRowForm(data=raw, owners=owners)
            if form.is_valid():
                rows.append(ImportRow(line=line, data=form.cleaned_data, raw=raw))
            else:
                rows.append(
                    ImportRow(
                        line=line,
                        errors={k: list(v) for k, v in form.errors.items()},
                        raw=raw,
                    )
                )
    except csv.Error as exc:
        return ImportPreview(rows=[], errors=[_("The file is not valid CSV: %s") % exc])
    if not rows:
        return ImportPreview(rows=[], errors=[_("The file has no rows to import.")])
    return ImportPreview(rows=rows)


def import_report(preview: ImportPreview, imported: int | None) -> dict:
    return {
        "valid": len(preview.valid_rows),
        "invalid": len(preview.invalid_rows),
        "imported": imported or 0,
        "errors": [{"line": r.line, "errors": r.errors} for r in preview.invalid_rows],
        "file_errors": preview.errors,
    }


def iter_import_data(rows: Iterable[ImportRow]) -> Iterator[dict]:
    for r in rows:
        if r.valid:
            yield r.data
