import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Event, Task
from crm.services import user_today
from leads import services as lead_services
from leads.models import Lead, LeadScore, LeadStatus
from scoring import services
from scoring.models import Criterion, JobStatus, RescoreJob, ScoringSettings
from tests.factories import LeadFactory
from tests.scoring import score_set

pytestmark = pytest.mark.django_db
BANT = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "lt_3m"}


def _auto_qualify(on: bool):
    ScoringSettings.objects.filter(pk=1).update(auto_qualify=on)


def test_defaults_reach_the_threshold_only_when_all_four_are_favourable(rep):
    assert services.scoring_settings_get().threshold == 100
    full = lead_services.lead_create(actor=rep, last_name="Full", **BANT)
    assert (full.score, full.sales_ready) == (100, True)
    for field in BANT:
        partial = lead_services.lead_create(
            actor=rep, last_name="Partial", **{**BANT, field: "unknown"}
        )
        assert partial.score == 75 and not partial.sales_ready


def test_score_updates_on_every_scored_field_change(rep):
    lead = lead_services.lead_create(actor=rep, last_name="L", budget="yes")
    assert lead.score == 25
    lead = lead_services.lead_update(actor=rep, lead=lead, need="yes", authority="yes")
    assert lead.score == 75
    lead = lead_services.lead_update(actor=rep, lead=lead, timeline="3_6m")
    assert lead.score == 100 and lead.sales_ready
    assert Lead.objects.get(pk=lead.pk).score == 100


@pytest.mark.parametrize("auto", [True, False])
def test_threshold_crossing_with_auto_qualify(rep, auto):
    _auto_qualify(auto)
    lead = lead_services.lead_create(
        actor=rep, last_name="L", budget="yes", need="yes", authority="yes"
    )
    assert lead.status == LeadStatus.NEW
    lead = lead_services.lead_update(actor=rep, lead=lead, timeline="lt_3m")
    lead.refresh_from_db()
    assert lead.sales_ready
    assert lead.status == (LeadStatus.QUALIFIED if auto else LeadStatus.NEW)
    assert Event.objects.filter(lead=lead, kind="qualified").exists() == auto
    # the owner is told in the app: a task on their agenda, due today
    notice = Task.objects.filter(lead=lead, title__startswith="Sales-ready").first()
    assert (notice is not None) == auto
    if auto:
        assert notice.owner == rep and notice.due_on == user_today(rep) and not notice.done


def test_disqualified_and_converted_leads_are_never_changed(rep, admin):
    _auto_qualify(True)
    ask = lead_services.lead_settings_get()
    ask.ask_disqualification_reason = False
    ask.save()
    out = LeadFactory(owner=rep, **BANT)
    lead_services.lead_disqualify(actor=rep, lead=out)
    done = LeadFactory(owner=rep, company="")
    lead_services.lead_convert(actor=rep, lead=done)
    LeadScore.objects.filter(pk__in=[out.pk, done.pk]).update(score=7)
    services.rescore_run(job_id=RescoreJob.objects.create().pk)
    for lead in Lead.objects.filter(pk__in=[out.pk, done.pk]):
        assert lead.score == 7
    assert Lead.objects.get(pk=out.pk).status == LeadStatus.UNQUALIFIED
    assert Lead.objects.get(pk=done.pk).status == LeadStatus.CONVERTED


def test_rescore_applies_auto_qualify_set_based(rep):
    _auto_qualify(True)
    leads = [LeadFactory(owner=rep, status=LeadStatus.WORKING, **BANT) for _ in range(5)]
    job = services.rescore_run(job_id=RescoreJob.objects.create().pk, chunk_size=2)
    assert job.status == JobStatus.DONE and job.processed == job.total == 5
    assert set(
        Lead.objects.filter(pk__in=[x.pk for x in leads]).values_list("status", flat=True)
    ) == {LeadStatus.QUALIFIED}
    assert Event.objects.filter(kind="qualified").count() == 5
    notices = Task.objects.filter(title__startswith="Sales-ready")
    assert notices.count() == 5 and {t.owner for t in notices} == {rep}
    assert {t.source_event.kind for t in notices} == {"qualified"}


def test_a_criteria_change_during_a_rescore_ends_with_the_latest_criteria(admin, rep):
    for _ in range(30):
        LeadFactory(owner=rep, status=LeadStatus.WORKING, **BANT)
    first = RescoreJob.objects.create()
    budget = Criterion.objects.get(field="budget")
    changed = {}

    def change_midway(job):
        if not changed:  # after the first chunk an admin changes a criterion
            changed["job"] = services.criterion_update(actor=admin, criterion=budget, points=40)

    services.rescore_run(job_id=first.pk, chunk_size=10, on_chunk=change_midway)
    # the change queued its own job; run what is queued, in order, as the worker would
    for job in RescoreJob.objects.filter(status=JobStatus.QUEUED).order_by("id"):
        services.rescore_run(job_id=job.pk, chunk_size=10)
    assert set(LeadScore.objects.values_list("score", flat=True)) == {115}


def test_rescore_query_count_grows_with_chunks_not_leads(rep):
    def queries(n_leads, chunk_size):
        Lead.objects.all().delete()
        for i in range(n_leads):  # chunks are id ranges aligned on multiples of chunk_size
            LeadFactory(id=100_000 + i, owner=rep, status=LeadStatus.WORKING)
        job = RescoreJob.objects.create()
        with CaptureQueriesContext(connection) as ctx:
            services.rescore_run(job_id=job.pk, chunk_size=chunk_size)
        return len(ctx.captured_queries)

    # same number of chunks, 10x the leads: same queries
    assert queries(4, 2) == queries(40, 20)
    # one more chunk: a constant number more
    assert queries(6, 2) - queries(4, 2) == queries(8, 2) - queries(6, 2) > 0


def test_finished_job_is_not_run_twice(rep):
    job = services.rescore_run(job_id=RescoreJob.objects.create().pk)
    finished = job.finished_at
    again = services.rescore_run(job_id=job.pk)
    assert again.finished_at == finished


def test_api(rep_api, admin_api, rep, django_capture_on_commit_callbacks):
    lead = LeadFactory(owner=rep, budget="yes", need="yes")
    score_set(lead, score=50)
    r = rep_api.get(f"/api/v1/leads/{lead.pk}/score/")
    assert r.status_code == 200
    body = r.json()
    assert body["threshold"] == 100 and body["sales_ready"] is False
    assert sorted(b["points"] for b in body["breakdown"]) == [25, 25]
    assert rep_api.get(f"/api/v1/leads/{LeadFactory().pk}/score/").status_code == 404
    assert rep_api.get("/api/v1/settings/scoring/").json() == {
        "threshold": 100,
        "auto_qualify": False,
    }
    assert (
        rep_api.patch("/api/v1/settings/scoring/", {"threshold": 50}, format="json").status_code
        == 403
    )
    assert rep_api.post("/api/v1/scoring/rescore/").status_code == 403
    assert rep_api.post("/api/v1/scoring/criteria/", {}, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_api.patch("/api/v1/settings/scoring/", {"threshold": 50}, format="json")
    assert r.status_code == 200 and r.json()["threshold"] == 50
    lead.refresh_from_db()
    assert lead.sales_ready  # the change rescored every lead (eager Celery)
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_api.post("/api/v1/scoring/rescore/")
    assert r.status_code == 202
    job = rep_api.get(f"/api/v1/scoring/jobs/{r.json()['job']}/").json()
    assert job["status"] == "done" and job["processed"] == job["total"]
    r = admin_api.post(
        "/api/v1/scoring/criteria/",
        {"name": "Spain", "field": "country", "operator": "eq", "value": "Spain", "points": -5},
        format="json",
    )
    assert r.status_code == 201 and r.json()["points"] == -5
    for bad in (
        {"name": "x", "field": "budget", "operator": "contains", "value": "y", "points": 1},
        {"name": "x", "field": "budget", "operator": "eq", "value": "maybe", "points": 1},
        {"name": "x", "field": "colour", "operator": "eq", "value": "red", "points": 1},
        {"name": "x", "field": "timeline", "operator": "gte", "value": "unknown", "points": 1},
        {"name": "x", "field": "country", "operator": "eq", "value": "", "points": 1},
        {"name": "x", "field": "country", "operator": "eq", "value": "x", "points": "many"},
    ):
        assert admin_api.post("/api/v1/scoring/criteria/", bad, format="json").status_code == 400
    assert Criterion.objects.count() == 5
    r = rep_api.get("/api/v1/leads/", {"sales_ready": "true", "score_min": 40})
    assert [x["id"] for x in r.json()["results"]] == [lead.pk]


def test_a_finished_rescore_refreshes_the_score_statistics(admin):
    """After a rescore the planner's statistics of the score table are fresh (an ANALYZE), so the
    sales-ready filter does not run on a plan made for the old scores."""
    LeadFactory.create_batch(3)
    with CaptureQueriesContext(connection) as ctx:
        services.rescore_run(job_id=RescoreJob.objects.create().pk)
    analyzed = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("ANALYZE")]
    assert analyzed == [f'ANALYZE "{LeadScore._meta.db_table}"']
