"""Readable timeline sentences for the events the leads services write."""

from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leads.models import LeadEvent


def _date(value) -> str:
    parsed = parse_date(value) if isinstance(value, str) else value
    return date_format(parsed, "SHORT_DATE_FORMAT") if parsed else str(value)


def _disqualified(event, params):
    data = event.data
    if data.get("reason_name"):
        summary = _("%(actor)s disqualified the lead: %(reason)s.") % {
            **params,
            "reason": data["reason_name"],
        }
    else:
        summary = _("%(actor)s disqualified the lead without a reason.") % params
    details = []
    if data.get("note"):
        details.append(_("Note: %(note)s") % {"note": data["note"]})
    if data.get("revisit_on"):
        details.append(_("Frozen until %(date)s.") % {"date": _date(data["revisit_on"])})
    return summary, details


def _requalified(event, params):
    return _("%(actor)s requalified the lead.") % params, []


def _revisit_due(event, params):
    return _("The revisit date came: the lead is back to work and a revisit task was created."), []


def _converted(event, params):
    return _("%(actor)s converted the lead.") % params, []


def _imported(event, params):
    return _("%(actor)s imported the lead from a CSV file.") % params, []


def _classified(event, params):
    """A lead's or contact's classification: its new tag, an outcome, or the rating cleared."""
    data = event.data
    # Default names are stored in the install language: show them in the reader's.
    name = _(data["rating_name"]) if data.get("rating_name") else ""
    days = data.get("follow_up_days")
    lead = bool(event.lead_id)
    if not data.get("rating"):
        if lead:
            return _("%(actor)s cleared the rating of the lead.") % params, []
        return _("%(actor)s cleared the rating of the contact.") % params, []
    if days is None:
        follow_up = _("no follow-up")
    elif days == 0:
        follow_up = _("follow-up today")
    else:
        follow_up = ngettext("follow-up in %(days)s day", "follow-up in %(days)s days", days) % {
            "days": days
        }
    values = {**params, "rating": name, "follow_up": follow_up}
    if data.get("applies_tag"):
        if lead:
            summary = _("%(actor)s classified the lead as %(rating)s (%(follow_up)s).")
        else:
            summary = _("%(actor)s classified the contact as %(rating)s (%(follow_up)s).")
    elif lead:
        summary = _("%(actor)s rated the lead: %(rating)s (%(follow_up)s).")
    else:
        summary = _("%(actor)s rated the contact: %(rating)s (%(follow_up)s).")
    return summary % values, []


DESCRIBERS = {
    LeadEvent.CLASSIFIED: _classified,
    LeadEvent.DISQUALIFIED: _disqualified,
    LeadEvent.REQUALIFIED: _requalified,
    LeadEvent.REVISIT_DUE: _revisit_due,
    LeadEvent.CONVERTED: _converted,
    LeadEvent.IMPORTED: _imported,
}
