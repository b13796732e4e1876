"""The rep's sequence panel on a contact or lead page: enroll it in a sequence, stop one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import access
from crm.web import obj_url, safe_next
from opportunities import selectors_automation as selectors
from opportunities import services_automation as services
from opportunities.models import EnrollmentStatus, Sequence


def panel_context(request, **subject) -> dict:
    """``subject``: ``contact=`` or ``lead=``. Its enrollments (two queries) and the sequences
    it can be enrolled in."""
    ((field, record),) = subject.items()
    enrollments = list(selectors.enrollment_list(user=request.user).filter(**{field: record})[:20])
    for enrollment in enrollments:
        enrollment.stop_label = selectors.stop_reason_label(enrollment.stop_reason)
    active = {e.sequence_id for e in enrollments if e.status == EnrollmentStatus.ACTIVE}
    return {
        "enrollments": enrollments,
        "enroll_subject_field": field,
        "enroll_subject": record,
        "enroll_choices": [s for s in selectors.sequence_choices() if s.pk not in active],
    }


@login_required
@require_POST
def enroll(request):
    """Enroll the contact or lead named in the form (one the user can see) in a sequence."""
    lookups = {"contact": access.visible_contacts, "lead": access.visible_leads}
    field = request.POST.get("subject_field", "")
    if field not in lookups or not request.POST.get("subject", "").isdigit():
        raise Http404
    record = get_object_or_404(lookups[field](request.user), pk=int(request.POST["subject"]))
    back = safe_next(request, obj_url(record))
    sequence_id = request.POST.get("sequence", "")
    sequence = (
        Sequence.objects.filter(pk=int(sequence_id), archived_at__isnull=True).first()
        if sequence_id.isdigit()
        else None
    )
    if sequence is None:
        messages.error(request, _("Choose a sequence."))
        return redirect(back)
    try:
        _enrollment, created = services.enrollment_start(
            actor=request.user, sequence=sequence, **{field: record}
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    if created:
        messages.success(request, _("Enrolled in “%(name)s”.") % {"name": sequence.name})
    else:
        messages.info(request, _("Already enrolled in “%(name)s”.") % {"name": sequence.name})
    return redirect(back)


@login_required
@require_POST
def stop(request, pk: int):
    """Stop an enrollment of a record the user can see."""
    enrollment = get_object_or_404(selectors.enrollment_list(user=request.user), pk=pk)
    record = enrollment.contact or enrollment.lead
    back = safe_next(request, obj_url(record))
    try:
        services.enrollment_stop(actor=request.user, enrollment=enrollment)
    except PermissionDenied:
        raise Http404 from None
    messages.success(
        request, _("The sequence “%(name)s” is stopped.") % {"name": enrollment.sequence.name}
    )
    return redirect(back)
