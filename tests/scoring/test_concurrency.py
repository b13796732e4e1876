"""Scores written by a lead edit and by a rescore running at the same time (real transactions,
one connection per thread): the rescore's UPDATE locks score rows, not the lead rows it reads,
so the span locks (``scoring.services.LOCK_SPAN``) make it wait for an edit in progress."""

import threading

import pytest
from django.db import connection, transaction

from leads import services as lead_services
from leads.models import LeadScore
from scoring import services
from scoring.engine import score_lead
from scoring.models import Criterion

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def _in_thread(target) -> tuple[threading.Thread, dict]:
    out = {}

    def run():
        try:
            out["value"] = target()
        except BaseException as exc:  # re-raised by the test
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_rescore_chunk_waits_for_a_lead_edit_and_scores_its_new_answers(rep):
    lead = lead_services.lead_create(actor=rep, last_name="Racing", need="yes")
    budget = Criterion.objects.get(field="budget")
    with transaction.atomic():
        # The owner answers "budget: yes"; the score is written with the rules read now …
        lead_services.lead_update(actor=rep, lead=lead, budget="yes")
        assert LeadScore.objects.get(pk=lead.pk).score == 50
        # … while an admin changes the budget criterion (committed on another connection) …
        thread, _out = _in_thread(lambda: Criterion.objects.filter(pk=budget.pk).update(points=40))
        thread.join()
        # … and the rescore for the new rules reaches this lead's chunk before the edit commits.
        chunk, out = _in_thread(lambda: services._rescore_chunk(0, services.CHUNK_SIZE * 1000))
        chunk.join(timeout=1)
        assert chunk.is_alive(), "the chunk must wait for the edit in progress"
    chunk.join(timeout=30)
    assert not chunk.is_alive() and "error" not in out
    lead.refresh_from_db()
    expected, _why = score_lead(lead, services.rules_get())
    assert lead.budget == "yes" and expected == 65
    assert LeadScore.objects.get(pk=lead.pk).score == 65


def test_a_lead_edit_waits_for_a_rescore_chunk_and_reads_the_rules_after_it(rep):
    lead = lead_services.lead_create(actor=rep, last_name="Racing", need="yes")
    budget = Criterion.objects.get(field="budget")
    with transaction.atomic():
        services._span_locks([lead.pk // services.LOCK_SPAN], exclusive=True)  # a chunk's lock
        edit, out = _in_thread(
            lambda: lead_services.lead_update(actor=rep, lead=lead, budget="yes")
        )
        edit.join(timeout=1)
        assert edit.is_alive(), "the edit must wait for the chunk"
        Criterion.objects.filter(pk=budget.pk).update(points=40)  # the chunk's rules, say
    edit.join(timeout=30)
    assert not edit.is_alive() and "error" not in out
    assert LeadScore.objects.get(pk=lead.pk).score == 65
