"""``{% next_activity record %}``: the next-activity badge of a lead, contact or opportunity, and
for an open deal its "Rotting" mark (issue #9).

Lists and the board annotate their page of records in one query beforehand
(``crm.activity.attach_next_activity``, ``opportunities.selectors.attach_activity``); a detail
page passes its single record as is and the tag loads the annotation (one query).
"""

from django import template

from crm.activity import attach_next_activity, badge

register = template.Library()


def _is_open(record) -> bool:
    model = record._meta.model_name
    if model == "opportunity":
        return record.status == "open"
    if model == "lead":
        return record.status not in ("converted", "unqualified")
    return True


@register.inclusion_tag("includes/next_activity.html", takes_context=True)
def next_activity(context, record, detail=False):
    model = record._meta.model_name
    request = context.get("request")
    user = getattr(request, "user", None)
    if not hasattr(record, "next_task_due"):
        if model == "opportunity":
            from opportunities.selectors import attach_activity

            attach_activity([record], user=user)
        else:
            attach_next_activity([record], field=model, user=user)
    item = badge(record)
    return {
        "badge": item,
        "record": record,
        "is_open": _is_open(record),
        "detail": detail,
    }


@register.inclusion_tag("crm/_log_dialog.html", takes_context=True)
def log_dialog(context, record):
    """The "Log activity" button and its dialog (nothing for a read-only converted lead)."""
    from crm.views_activity import log_context

    if getattr(record, "is_read_only", False):
        return {"hidden": True}
    return {
        **log_context(record._meta.model_name, record),
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
