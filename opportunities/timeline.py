"""Readable timeline sentences for the events the opportunities services write.

``stage_changed``, ``shared`` and ``unshared`` are about one deal (its page's history); the
settings, pipeline and reason-list events have no record and show wherever every event is listed
(the admins' audit trail). Stage and reason names are copied into the event when it is written, so
the history keeps them even after a rename or an archive; default names are stored in the install
language and shown in the reader's.
"""

from decimal import Decimal

from django.utils.translation import gettext as _

from opportunities.models import OpportunityEvent


def _name(value) -> str:
    return _(value) if value else ""


def _stage_changed(event, params):
    data = event.data
    values = {
        **params,
        "from": _name(data.get("from_name")),
        "to": _name(data.get("to_name")),
        "win_reason": _name(data.get("win_reason_name")),
        "loss_reason": _name(data.get("loss_reason_name")),
        "previous_win_reason": _name(data.get("previous_win_reason_name")),
        "previous_loss_reason": _name(data.get("previous_loss_reason_name")),
    }
    status = data.get("status")
    details: list[str] = []

    if data.get("from") == data.get("to"):
        # Same stage: only why it was won or lost changed.
        if status == "won":
            if values["win_reason"]:
                summary = _("%(actor)s changed why the deal was won: %(win_reason)s.")
            else:
                summary = _("%(actor)s cleared why the deal was won.")
            if values["previous_win_reason"]:
                details.append(_("Before: %(reason)s") % {"reason": values["previous_win_reason"]})
        else:
            if values["loss_reason"]:
                summary = _("%(actor)s changed why the deal was lost: %(loss_reason)s.")
            else:
                summary = _("%(actor)s cleared why the deal was lost.")
            if values["previous_loss_reason"]:
                details.append(_("Before: %(reason)s") % {"reason": values["previous_loss_reason"]})
        return summary % values, details

    if status == "won":
        if values["win_reason"]:
            summary = _("%(actor)s moved the deal from %(from)s to %(to)s: won (%(win_reason)s).")
        else:
            summary = _("%(actor)s moved the deal from %(from)s to %(to)s: won, no reason given.")
    elif status == "lost":
        if values["loss_reason"]:
            summary = _("%(actor)s moved the deal from %(from)s to %(to)s: lost (%(loss_reason)s).")
        else:
            summary = _("%(actor)s moved the deal from %(from)s to %(to)s: lost, no reason given.")
    elif data.get("reopened"):
        summary = _("%(actor)s reopened the deal: moved from %(from)s to %(to)s.")
        cleared = values["previous_win_reason"] or values["previous_loss_reason"]
        if cleared:
            details.append(_("Reason cleared (was: %(reason)s).") % {"reason": cleared})
    else:
        summary = _("%(actor)s moved the deal from %(from)s to %(to)s.")
    return summary % values, details


_SETTING_LABELS = {
    "active_stages": lambda: _("Active stages"),
    "default_stage": lambda: _("Default stage"),
    "win_stage": lambda: _("Win stage"),
    "require_win_reason": lambda: _("Require a win reason"),
    "loss_stage": lambda: _("Loss stage"),
    "require_loss_reason": lambda: _("Require a loss reason"),
    "assign_to_group": lambda: _("Assign to group"),
    "share_contact_when_shared": lambda: _("Share contact when shared"),
    "share_contact_when_assigned": lambda: _("Share contact when assigned"),
    "unshare_contact_when_unshared": lambda: _("Unshare contact when unshared"),
    "unshare_contact_when_unassigned": lambda: _("Unshare contact when unassigned"),
    "sync_opportunity_and_contact_owners": lambda: _("Sync opportunity and contact owners"),
    "sync_owner_of_closed_leads": lambda: _("Sync owner of closed leads"),
}
#: Settings that hold a team's id rather than stages' ids.
_TEAM_SETTINGS = {"assign_to_group"}


def _setting_value(value, names: dict) -> str:
    if value is None or value == [] or value == "":
        return _("(none)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_setting_value(v, names) for v in value)
    if isinstance(value, int):
        return names.get(value) or f"#{value}"
    return str(value)


def _ids(change) -> set[int]:
    ids = set()
    for side in change if isinstance(change, list) else [change]:
        if isinstance(side, list):
            ids.update(v for v in side if isinstance(v, int) and not isinstance(v, bool))
        elif isinstance(side, int) and not isinstance(side, bool):
            ids.add(side)
    return ids


def _settings_changed(event, params):
    from crm.models import Team
    from opportunities.models import Stage

    changes = event.data.get("changes") or {}
    stage_ids, team_ids = set(), set()
    for field, change in changes.items():
        (team_ids if field in _TEAM_SETTINGS else stage_ids).update(_ids(change))
    # Stage and team names are not secret (every user sees the pipeline and picks owners by team);
    # at most one query each per described event.
    stage_names = (
        {s.pk: str(s) for s in Stage.objects.filter(pk__in=stage_ids)} if stage_ids else {}
    )
    team_names = {t.pk: str(t) for t in Team.objects.filter(pk__in=team_ids)} if team_ids else {}
    details = []
    for field, change in changes.items():
        old, new = change if isinstance(change, list) and len(change) == 2 else (None, change)
        label = _SETTING_LABELS.get(field, lambda f=field: f.replace("_", " "))()
        names = team_names if field in _TEAM_SETTINGS else stage_names
        details.append(
            _("%(field)s: %(old)s → %(new)s")
            % {
                "field": label,
                "old": _setting_value(old, names),
                "new": _setting_value(new, names),
            }
        )
    return _("%(actor)s changed the opportunity defaults.") % params, details


_ITEM_LABELS = {"name": lambda: _("Name"), "probability": lambda: _("Probability (%)")}


def _list_changed(event, params, *, created, renamed, updated, deleted, archived, reordered):
    data = event.data
    action = data.get("action")
    name = data.get("name")
    if isinstance(name, list) and len(name) == 2:
        return renamed % {**params, "old": _name(name[0]), "new": _name(name[1])}, []
    changes = data.get("changes") or {}
    if action == "updated" and isinstance(changes.get("name"), list) and len(changes["name"]) == 2:
        old, new = changes["name"]
        details = [
            _("%(field)s: %(old)s → %(new)s")
            % {"field": _ITEM_LABELS[f](), "old": _name(c[0]), "new": _name(c[1])}
            for f, c in changes.items()
            if f != "name" and f in _ITEM_LABELS and isinstance(c, list) and len(c) == 2
        ]
        return renamed % {**params, "old": _name(old), "new": _name(new)}, details
    if not name and data.get("stage"):
        from opportunities.models import Stage

        name = Stage.objects.filter(pk=data["stage"]).values_list("name", flat=True).first()
    values = {**params, "item": _name(name)}
    if action == "created":
        return created % values, []
    if action == "updated":
        details = []
        for field, change in (data.get("changes") or {}).items():
            if isinstance(change, list) and len(change) == 2:
                label = _ITEM_LABELS.get(field, lambda f=field: f)()
                details.append(
                    _("%(field)s: %(old)s → %(new)s")
                    % {"field": label, "old": _name(change[0]), "new": _name(change[1])}
                )
        return updated % values, details
    if action == "deleted":
        return deleted % values, []
    if action == "archived":
        return archived % values, []
    return reordered % values, []


def _stage_list_changed(event, params):
    return _list_changed(
        event,
        params,
        created=_("%(actor)s added the stage “%(item)s” to the pipeline."),
        renamed=_("%(actor)s renamed the stage “%(old)s” to “%(new)s”."),
        updated=_("%(actor)s edited the stage “%(item)s”."),
        deleted=_("%(actor)s deleted the stage “%(item)s”."),
        archived=_("%(actor)s archived the stage “%(item)s”."),
        reordered=_("%(actor)s changed the order of the pipeline stages."),
    )


def _win_reason_changed(event, params):
    return _list_changed(
        event,
        params,
        created=_("%(actor)s added the win reason “%(item)s”."),
        renamed=_("%(actor)s renamed the win reason “%(old)s” to “%(new)s”."),
        updated=_("%(actor)s edited the win reason “%(item)s”."),
        deleted=_("%(actor)s deleted the win reason “%(item)s”."),
        archived=_("%(actor)s archived the win reason “%(item)s”."),
        reordered=_("%(actor)s changed the order of the win reasons."),
    )


def _loss_reason_changed(event, params):
    return _list_changed(
        event,
        params,
        created=_("%(actor)s added the loss reason “%(item)s”."),
        renamed=_("%(actor)s renamed the loss reason “%(old)s” to “%(new)s”."),
        updated=_("%(actor)s edited the loss reason “%(item)s”."),
        deleted=_("%(actor)s deleted the loss reason “%(item)s”."),
        archived=_("%(actor)s archived the loss reason “%(item)s”."),
        reordered=_("%(actor)s changed the order of the loss reasons."),
    )


def _shared(event, params):
    user = event.data.get("user_name") or _("someone")
    return _("%(actor)s shared the opportunity with %(user)s.") % {**params, "user": user}, []


def _unshared(event, params):
    user = event.data.get("user_name") or _("someone")
    return _("%(actor)s stopped sharing the opportunity with %(user)s.") % {
        **params,
        "user": user,
    }, []


def _money(data) -> str:
    from django.utils.formats import number_format

    try:
        amount = number_format(Decimal(data.get("amount") or 0), 2, force_grouping=True)
    except (ArithmeticError, ValueError, TypeError):
        amount = data.get("amount", "")
    return f"{amount} {data.get('currency', '')}".strip()


def _buy_now_link_created(event, params):
    data = event.data
    return _("%(actor)s created a buy-now link for %(product)s (%(amount)s).") % {
        **params,
        "product": data.get("product", ""),
        "amount": _money(data),
    }, []


def _buy_now_clicked(event, params):
    return _("The prospect opened the buy-now link for %(product)s.") % {
        "product": event.data.get("product", "")
    }, []


def _buy_now_purchased(event, params):
    data = event.data
    summary = _("%(buyer)s bought %(product)s (%(amount)s) through a buy-now link.") % {
        "buyer": data.get("buyer_name") or _("The prospect"),
        "product": data.get("product", ""),
        "amount": _money(data),
    }
    details = []
    if data.get("buyer_email"):
        details.append(_("Email: %(email)s") % {"email": data["buyer_email"]})
    for message in data.get("not_won") or []:
        details.append(_("The deal was not marked won: %(why)s") % {"why": message})
    return summary, details


def _payment_confirmed(event, params):
    reference = event.data.get("reference") or ""
    details = [_("Payment reference: %(ref)s") % {"ref": reference}] if reference else []
    return _("The payment processor confirmed the payment of the buy-now order."), details


def _when(data) -> str:
    texts = {
        "buy_now_clicked": _("clicked buy now"),
        "buy_now_purchased": _("purchased via buy now"),
        "lead_disqualified": _("lead disqualified"),
    }
    return texts.get(data.get("event"), data.get("event", ""))


def _action_text(data) -> str:
    kind = data.get("kind")
    if kind == "apply_tag":
        return _("apply the tag “%(tag)s”") % {"tag": data.get("tag", "")}
    if kind == "start_sequence":
        return _("start the sequence “%(name)s”") % {"name": data.get("sequence_name", "")}
    return _("email the owner")


def _trigger_actions_changed(event, params):
    data = event.data
    values = {
        **params,
        "when": _when(data),
        "what": _action_text(data),
    }
    texts = {
        "created": _("%(actor)s added an automation: when %(when)s, %(what)s."),
        "updated": _("%(actor)s changed an automation: when %(when)s, %(what)s."),
        "archived": _("%(actor)s removed an automation: when %(when)s, %(what)s."),
    }
    return texts.get(data.get("action"), texts["updated"]) % values, []


def _trigger_action_ran(event, params):
    data = event.data
    values = {
        "when": _when(data),
        "what": _action_text(data),
    }
    if data.get("status") == "failed":
        summary = _("Automation (%(when)s) could not %(what)s.") % values
        details = [data["detail"]] if data.get("detail") else []
        return summary, details
    return _("Automation (%(when)s): %(what)s.") % values, []


def _sequence_changed(event, params):
    data = event.data
    values = {**params, "name": data.get("name", "")}
    texts = {
        "created": _("%(actor)s created the sequence “%(name)s”."),
        "updated": _("%(actor)s edited the sequence “%(name)s”."),
        "archived": _("%(actor)s archived the sequence “%(name)s”."),
    }
    return texts.get(data.get("action"), texts["updated"]) % values, []


def _enrolled(event, params):
    return _("%(actor)s enrolled this record in the sequence “%(name)s”.") % {
        **params,
        "name": event.data.get("sequence_name", ""),
    }, []


def _enrollment_stopped(event, params):
    data = event.data
    from opportunities.selectors_automation import stop_reason_label

    summary = _("The sequence “%(name)s” stopped.") % {"name": data.get("sequence_name", "")}
    return summary, [stop_reason_label(data["reason"])] if data.get("reason") else []


def _sequence_step_ran(event, params):
    data = event.data
    values = {"name": data.get("sequence_name", ""), "title": data.get("title", "")}
    if data.get("status") == "failed":
        return _("Sequence “%(name)s”: the step “%(title)s” failed.") % values, [
            data.get("detail", "")
        ]
    if data.get("step_kind") == "email":
        return _("Sequence “%(name)s”: sent the email “%(title)s”.") % values, []
    return _("Sequence “%(name)s”: added the task “%(title)s”.") % values, []


DESCRIBERS = {
    OpportunityEvent.STAGE_CHANGED: _stage_changed,
    OpportunityEvent.SETTINGS_CHANGED: _settings_changed,
    OpportunityEvent.STAGE_LIST_CHANGED: _stage_list_changed,
    OpportunityEvent.WIN_REASON_CHANGED: _win_reason_changed,
    OpportunityEvent.LOSS_REASON_CHANGED: _loss_reason_changed,
    OpportunityEvent.SHARED: _shared,
    OpportunityEvent.UNSHARED: _unshared,
    OpportunityEvent.BUY_NOW_LINK_CREATED: _buy_now_link_created,
    OpportunityEvent.BUY_NOW_CLICKED: _buy_now_clicked,
    OpportunityEvent.BUY_NOW_PURCHASED: _buy_now_purchased,
    OpportunityEvent.PAYMENT_CONFIRMED: _payment_confirmed,
    OpportunityEvent.TRIGGER_ACTIONS_CHANGED: _trigger_actions_changed,
    OpportunityEvent.TRIGGER_ACTION_RAN: _trigger_action_ran,
    OpportunityEvent.SEQUENCE_CHANGED: _sequence_changed,
    OpportunityEvent.ENROLLED: _enrolled,
    OpportunityEvent.ENROLLMENT_STOPPED: _enrollment_stopped,
    OpportunityEvent.SEQUENCE_STEP_RAN: _sequence_step_ran,
}
