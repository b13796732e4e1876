"""Lead scoring in the browser: the qualification panel and score of the lead page, the score
column and filters of the lead list, Settings > Scoring (criteria, threshold, rescoring progress)
and Reports > Scoring."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Event
from leads import services as lead_services
from leads.models import Lead, LeadScore, LeadStatus
from scoring import services
from scoring.models import Criterion, JobStatus, RescoreJob, ScoringSettings
from tests.factories import LeadFactory
from tests.scoring import scored_lead

pytestmark = pytest.mark.django_db

BANT = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "lt_3m"}
TAB = reverse("settings-scoring")
REPORT = reverse("report-scoring")


def _count(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _leads_snapshot():
    return (
        list(Lead.objects.order_by("id").values()),
        list(LeadScore.objects.order_by("pk").values()),
    )


def _scoring_snapshot():
    return (
        list(
            Criterion.objects.order_by("id").values("name", "field", "operator", "value", "points")
        ),
        list(ScoringSettings.objects.values("threshold", "auto_qualify", "version")),
        RescoreJob.objects.count(),
    )


def _criterion(name):
    return Criterion.objects.get(name=name)


# --- the lead page -------------------------------------------------------------------------------


def test_lead_page_shows_score_against_threshold_and_why(rep_client, rep):
    lead = lead_services.lead_create(
        actor=rep, last_name="Partial", budget="yes", need="yes", timeline="3_6m"
    )
    response = rep_client.get(reverse("lead-detail", args=[lead.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    panel = html.split('id="qualification"')[1].split("</section>")[0]
    assert "75</strong>" in panel and "/ 100" in panel
    assert '<meter id="score-meter" min="0" max="100" value="75"' in panel
    assert "Not sales-ready yet" in panel and "25 points to go" in panel
    # why: each matching criterion and its points
    assert "Budget confirmed" in panel and "Has a need we solve" in panel
    assert "Buying within 6 months" in panel and "+25" in panel
    assert "Talking to the decision maker" not in panel
    # the discovery-call questions
    for question in (
        "Can they buy?",
        "Can this contact sign?",
        "Do they have a pain we solve?",
        "When do they plan to buy?",
    ):
        assert question in panel
    assert f'action="{reverse("lead-qualify", args=[lead.pk])}"' in panel
    # reps do not get the link to the settings
    assert reverse("settings-scoring") not in panel


def test_sales_ready_shows_icon_and_text(rep_client, rep):
    lead = lead_services.lead_create(actor=rep, last_name="Ready", **BANT)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    panel = html.split('id="qualification"')[1].split("</section>")[0]
    assert '<span aria-hidden="true">✓</span> Sales-ready' in panel
    assert "points to go" not in panel


def test_qualify_panel_saves_and_the_page_shows_the_new_score(rep_client, rep):
    lead = lead_services.lead_create(actor=rep, last_name="L", budget="yes")
    url = reverse("lead-qualify", args=[lead.pk])
    response = rep_client.post(
        url,
        {
            **BANT,
            "country": " Spain ",
            "industry": "Retail",
            "company_size": "11-50",
            "title": "CEO",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("lead-detail", args=[lead.pk]) + "#qualification"
    lead.refresh_from_db()
    assert (lead.score, lead.sales_ready) == (100, True)
    assert (lead.country, lead.company_size, lead.title) == ("Spain", "11-50", "CEO")
    assert Event.objects.filter(lead=lead, kind="updated").exists()
    page = rep_client.get(response["Location"])
    html = page.content.decode()
    assert "Qualification saved. Score: 100 / 100. The lead is sales-ready." in html
    assert "100</strong>" in html and "Sales-ready" in html


def test_qualify_with_auto_qualify_says_so(rep_client, rep):
    ScoringSettings.objects.filter(pk=1).update(auto_qualify=True)
    lead = lead_services.lead_create(actor=rep, last_name="L")
    response = rep_client.post(reverse("lead-qualify", args=[lead.pk]), BANT, follow=True)
    assert "now qualified" in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).status == LeadStatus.QUALIFIED


def test_qualify_unchanged_says_nothing_changed(rep_client, rep):
    lead = lead_services.lead_create(actor=rep, last_name="L", **BANT)
    events = Event.objects.count()
    response = rep_client.post(reverse("lead-qualify", args=[lead.pk]), BANT, follow=True)
    assert "Nothing changed." in response.content.decode()
    assert Event.objects.count() == events


def test_qualify_errors_show_next_to_the_fields_and_nothing_changes(rep_client, rep):
    lead = lead_services.lead_create(actor=rep, last_name="L")
    before = _leads_snapshot()
    response = rep_client.post(
        reverse("lead-qualify", args=[lead.pk]),
        {"budget": "maybe", "timeline": "soon", "country": "x" * 101},
    )
    assert response.status_code == 400
    form = response.context["qualify_form"]
    assert set(form.errors) == {"budget", "timeline", "country"}
    html = response.content.decode()
    assert 'id="qualify-budget_error"' in html and 'id="qualify-country_error"' in html
    assert _leads_snapshot() == before


def test_qualify_another_reps_lead_is_404_and_nothing_changes(rep_client, other_rep):
    lead = LeadFactory(owner=other_rep)
    before = _leads_snapshot()
    assert rep_client.post(reverse("lead-qualify", args=[lead.pk]), BANT).status_code == 404
    assert _leads_snapshot() == before


def test_qualify_is_post_only(rep_client, rep):
    lead = LeadFactory(owner=rep)
    assert rep_client.get(reverse("lead-qualify", args=[lead.pk])).status_code == 405


def test_converted_lead_is_read_only(rep_client, rep):
    lead = LeadFactory(owner=rep, company="")
    lead_services.lead_convert(actor=rep, lead=lead)
    before = _leads_snapshot()
    response = rep_client.post(reverse("lead-qualify", args=[lead.pk]), BANT, follow=True)
    assert "A converted lead is read-only." in response.content.decode()
    assert _leads_snapshot() == before
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    panel = html.split('id="qualification"')[1].split("</section>")[0]
    assert "lead-qualify" not in panel and "<select" not in panel
    assert "no longer scored" in panel


def test_pending_rescore_is_explained(rep_client, rep, admin):
    lead = lead_services.lead_create(actor=rep, last_name="L", budget="yes")
    # the criterion changes; its rescore has not run yet (no on_commit execution)
    services.criterion_update(actor=admin, criterion=_criterion("Budget confirmed"), points=40)
    html = rep_client.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert "being rescored" in html and "it will score 40" in html


def test_admin_gets_a_link_to_the_criteria(admin_client_, admin):
    lead = LeadFactory(owner=admin)
    html = admin_client_.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    assert f'href="{TAB}"' in html


def test_lead_form_has_the_four_bant_questions(rep_client, rep):
    html = rep_client.get(reverse("lead-create")).content.decode()
    for name in ("budget", "authority", "need", "timeline"):
        assert f'name="{name}"' in html
    response = rep_client.post(
        reverse("lead-create"), {"last_name": "Bant", "owner": rep.pk, **BANT}
    )
    assert response.status_code == 302
    lead = Lead.objects.get(last_name="Bant")
    assert (lead.budget, lead.timeline, lead.score) == ("yes", "lt_3m", 100)
    # the edit form shows the answers
    html = rep_client.get(reverse("lead-edit", args=[lead.pk])).content.decode()
    assert '<option value="lt_3m" selected>' in html
    rep_client.post(
        reverse("lead-edit", args=[lead.pk]),
        {"last_name": "Bant 2", "owner": rep.pk, **BANT, "budget": "no"},
    )
    lead.refresh_from_db()
    assert (lead.last_name, lead.budget, lead.score, lead.sales_ready) == (
        "Bant 2",
        "no",
        75,
        False,
    )


def test_lead_page_query_count_does_not_grow_with_criteria(rep_client, rep, admin):
    lead = lead_services.lead_create(actor=rep, last_name="L", **BANT)
    url = reverse("lead-detail", args=[lead.pk])
    few = _count(rep_client, url)
    for i in range(10):
        services.criterion_create(
            actor=admin, name=f"C{i}", field="country", operator="eq", value="Spain", points=i
        )
    assert _count(rep_client, url) == few


# --- the lead list -------------------------------------------------------------------------------


def test_list_has_a_sortable_score_column_badge_and_filters(rep_client, rep):
    lead_services.lead_create(actor=rep, last_name="Hot", **BANT)
    lead_services.lead_create(actor=rep, last_name="Warm", budget="yes", need="yes")
    lead_services.lead_create(actor=rep, last_name="Cold")
    response = rep_client.get(reverse("lead-list"))
    html = response.content.decode()
    assert "?sort=score" in html  # the Score header is a sort link
    row = html.split(">Hot</a>")[1].split("</tr>")[0]
    assert '<span class="score-value">100</span>' in row
    assert '<span aria-hidden="true">✓</span> Sales-ready' in row
    row = html.split(">Warm</a>")[1].split("</tr>")[0]
    assert '<span class="score-value">50</span>' in row and "Sales-ready" not in row
    # the filters are in the form
    assert 'name="sales_ready"' in html and 'name="score_min"' in html
    assert 'name="score_max"' in html and ">Not sales-ready</option>" in html
    names = lambda r: [lead.last_name for lead in r.context["page_obj"]]  # noqa: E731
    assert names(rep_client.get(reverse("lead-list"), {"sort": "-score"})) == [
        "Hot",
        "Warm",
        "Cold",
    ]
    assert names(rep_client.get(reverse("lead-list"), {"sales_ready": "true"})) == ["Hot"]
    not_ready = names(rep_client.get(reverse("lead-list"), {"sales_ready": "false"}))
    assert sorted(not_ready) == ["Cold", "Warm"]
    got = names(rep_client.get(reverse("lead-list"), {"score_min": "25", "score_max": "75"}))
    assert got == ["Warm"]


def test_list_query_count_does_not_grow_with_scored_leads(rep_client, rep):
    url = reverse("lead-list")
    for _ in range(3):
        lead_services.lead_create(actor=rep, last_name="R", **BANT)
    few = _count(rep_client, url, sort="-score", sales_ready="true")
    for i in range(25):
        lead_services.lead_create(actor=rep, last_name="R", **(BANT if i % 2 else {}))
    assert _count(rep_client, url, sort="-score", sales_ready="true") == few


# --- Settings > Scoring: access ------------------------------------------------------------------

SETTINGS_URLS = [
    ("settings-scoring", False, {}),
    (
        "settings-scoring-criterion-create",
        False,
        {"name": "X", "field": "budget", "operator": "eq", "value": "yes", "points": "5"},
    ),
    ("settings-scoring-criterion-edit", True, {"name": "X", "points": "5"}),
    ("settings-scoring-criterion-delete", True, {}),
    ("settings-scoring-threshold", False, {"threshold": "10", "auto_qualify": "yes"}),
    ("settings-scoring-rescore", False, {}),
    ("settings-scoring-job", "job", {}),
]


def _url(name, with_pk):
    if with_pk == "job":
        return reverse(name, args=[RescoreJob.objects.create().pk])
    return reverse(name, args=[Criterion.objects.first().pk] if with_pk else [])


@pytest.mark.parametrize(("name", "with_pk", "data"), SETTINGS_URLS)
def test_rep_gets_403_everywhere_and_nothing_changes(rep_client, name, with_pk, data):
    url = _url(name, with_pk)
    before = _scoring_snapshot()
    assert rep_client.get(url).status_code == 403
    assert rep_client.post(url, data).status_code == 403
    assert rep_client.get(url, HTTP_HX_REQUEST="true").status_code == 403
    assert _scoring_snapshot() == before


@pytest.mark.parametrize(("name", "with_pk", "data"), SETTINGS_URLS)
def test_anonymous_is_sent_to_login(client, name, with_pk, data):
    url = _url(name, with_pk)
    before = _scoring_snapshot()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert _scoring_snapshot() == before


def test_settings_nav_has_a_scoring_tab(admin_client_):
    html = admin_client_.get(reverse("settings-users")).content.decode()
    assert f'href="{TAB}"' in html
    html = admin_client_.get(TAB).content.decode()
    assert f'href="{TAB}" aria-current="page"' in html


# --- Settings > Scoring: the tab -----------------------------------------------------------------


def test_tab_lists_criteria_as_rules_threshold_and_auto_qualify(admin_client_):
    response = admin_client_.get(TAB)
    assert response.status_code == 200
    html = response.content.decode()
    row = html.split(f'id="criterion-{_criterion("Buying within 6 months").pk}"')[1]
    row = row.split("</tr>")[0]
    assert "Timeline is one of Within 3 months, In 3 to 6 months" in row and "+25" in row
    assert 'name="threshold"' in html and 'value="100"' in html
    assert "Auto-qualify at the threshold" in html
    assert 'value="no" id="threshold-auto_qualify_1" required checked' in html
    assert "No rescoring has run yet." in html


def test_tab_query_count_does_not_grow(admin_client_, admin):
    few = _count(admin_client_, TAB)
    for i in range(8):
        services.criterion_create(
            actor=admin, name=f"C{i}", field="industry", operator="contains", value="ret", points=i
        )
    for _ in range(5):
        LeadFactory()
    assert _count(admin_client_, TAB) == few


# --- add / edit / delete -------------------------------------------------------------------------


def test_new_criterion_page_offers_valid_operators_and_values(admin_client_):
    response = admin_client_.get(reverse("settings-scoring-criterion-create"))
    assert response.status_code == 200
    html = response.content.decode()
    operator = html.split('name="operator"')[1].split("</select>")[0]
    assert 'value="eq"' in operator and 'value="in"' in operator
    assert 'value="gte"' not in operator and 'value="contains"' not in operator
    value = html.split('name="value"')[1].split("</select>")[0]
    assert 'value="yes"' in value and 'value="unknown"' in value
    assert 'hx-post="' in html and 'name="value_for" value="budget"' in html


def test_create_criterion_rescores_every_lead(
    admin_client_, admin, rep, django_capture_on_commit_callbacks
):
    lead = LeadFactory(owner=rep, country="Spain")
    data = {
        "name": "Spanish market",
        "field": "country",
        "operator": "eq",
        "value": " spain ",
        "points": "-10",
        "value_for": "country",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("settings-scoring-criterion-create"), data)
    assert response.status_code == 302 and response["Location"] == TAB
    criterion = _criterion("Spanish market")
    assert (criterion.value, criterion.points) == ("spain", -10)
    lead.refresh_from_db()
    assert lead.score == -10
    job = RescoreJob.objects.get()
    assert job.status == JobStatus.DONE and job.created_by == admin
    html = admin_client_.get(TAB).content.decode()
    assert "Criterion “Spanish market” added." in html
    assert "Country is “spain”" in html and "-10" in html
    job_html = html.split('id="rescore-job"')[1].split("</div>")[0]
    assert "hx-trigger" not in job_html and "Done" in job_html
    assert f'<progress id="rescore-progress" max="{job.total or 1}" value="{job.total or 1}"' in (
        job_html
    )


def test_create_one_of_several_choices(admin_client_, django_capture_on_commit_callbacks):
    data = {
        "name": "Big",
        "field": "company_size",
        "operator": "in",
        "value": ["201-1000", "1000+"],
        "points": "15",
        "value_for": "company_size",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(reverse("settings-scoring-criterion-create"), data)
    assert response.status_code == 302
    assert _criterion("Big").value == "201-1000,1000+"


def test_edit_criterion_rescores_and_the_lead_breakdown_shows_it(
    admin_client_, rep, django_capture_on_commit_callbacks
):
    lead = lead_services.lead_create(actor=rep, last_name="L", **BANT)
    criterion = _criterion("Budget confirmed")
    url = reverse("settings-scoring-criterion-edit", args=[criterion.pk])
    page = admin_client_.get(url).content.decode()
    assert 'value="Budget confirmed"' in page and 'value="yes" selected' in page
    data = {
        "name": "Budget approved",
        "field": "budget",
        "operator": "eq",
        "value": "yes",
        "points": "40",
        "value_for": "budget",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(url, data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.score == 115
    html = admin_client_.get(reverse("lead-detail", args=[lead.pk])).content.decode()
    panel = html.split('id="qualification"')[1].split("</section>")[0]
    assert "Budget approved" in panel and "+40" in panel and "115</strong>" in panel


def test_edit_without_changes_says_so_and_starts_nothing(admin_client_):
    criterion = _criterion("Buying within 6 months")
    data = {
        "name": criterion.name,
        "field": "timeline",
        "operator": "in",
        "value": ["lt_3m", "3_6m"],
        "points": "25",
        "value_for": "timeline",
    }
    before = _scoring_snapshot()
    response = admin_client_.post(
        reverse("settings-scoring-criterion-edit", args=[criterion.pk]), data, follow=True
    )
    assert "Nothing changed." in response.content.decode()
    assert _scoring_snapshot() == before


def test_delete_criterion_with_a_confirmation_page(
    admin_client_, rep, django_capture_on_commit_callbacks
):
    lead = lead_services.lead_create(actor=rep, last_name="L", **BANT)
    criterion = _criterion("Has a need we solve")
    url = reverse("settings-scoring-criterion-delete", args=[criterion.pk])
    page = admin_client_.get(url)
    assert page.status_code == 200 and "Delete “Has a need we solve”?" in page.content.decode()
    assert Criterion.objects.filter(pk=criterion.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(url)
    assert response.status_code == 302
    assert not Criterion.objects.filter(pk=criterion.pk).exists()
    lead.refresh_from_db()
    assert (lead.score, lead.sales_ready) == (75, False)
    assert Event.objects.filter(kind="scoring_changed", data__action="deleted").exists()


BAD_CRITERIA = [
    # the operator does not suit the field: the service's message, next to the operator
    (
        {"field": "country", "operator": "gte", "value": "Spain", "value_for": "country"},
        "operator",
        "This operator cannot be used with this field.",
    ),
    # a value the field does not take: the service lists the ones it does
    (
        {"field": "budget", "operator": "eq", "value": "maybe", "value_for": "budget"},
        "value",
        "Use one of: no, unknown, yes.",
    ),
    ({"field": "need", "operator": "eq", "value": "", "value_for": "need"}, "value", None),
    ({"field": "title", "operator": "eq", "value": "CEO", "points": "5000"}, "points", None),
    ({"field": "title", "operator": "eq", "value": "CEO", "points": "ten"}, "points", None),
    ({"field": "nope", "operator": "eq", "value": "CEO"}, "field", None),
    ({"field": "title", "operator": "like", "value": "CEO"}, "operator", None),
    ({"field": "title", "operator": "eq", "value": "x" * 201}, "value", None),
    # the field changed after the value was chosen for another one (no JavaScript)
    (
        {"field": "country", "operator": "eq", "value": "yes", "value_for": "budget"},
        "value",
        "The field changed: choose the value for it again.",
    ),
    ({"name": "  ", "field": "title", "operator": "eq", "value": "CEO"}, "name", None),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_CRITERIA)
@pytest.mark.parametrize("edit", [False, True])
def test_bad_criterion_shows_field_errors_and_nothing_changes(
    admin_client_, data, field, message, edit
):
    url = (
        reverse("settings-scoring-criterion-edit", args=[_criterion("Budget confirmed").pk])
        if edit
        else reverse("settings-scoring-criterion-create")
    )
    before = _scoring_snapshot()
    response = admin_client_.post(url, {"name": "Bad", "points": "5", **data})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    if message:
        assert message in errors[field]
    html = response.content.decode()
    assert f'id="criterion-{field}_error"' in html and "Please correct the errors below." in html
    assert _scoring_snapshot() == before


def test_refresh_redraws_the_rule_for_the_chosen_field_and_saves_nothing(admin_client_):
    url = reverse("settings-scoring-criterion-create")
    before = _scoring_snapshot()
    data = {
        "name": "Soon",
        "field": "timeline",
        "operator": "in",
        "value": "yes",
        "value_for": "budget",
        "points": "",
        "refresh": "1",
    }
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="Soon"' in html and 'name="value_for" value="timeline"' in html
    assert 'type="checkbox" name="value" value="lt_3m"' in html  # "is one of": tick boxes
    assert "errorlist" not in html
    # htmx: the same page, of which the rule part is swapped in
    response = admin_client_.post(
        url, {**data, "field": "country", "operator": "gte"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    rule = html.split('id="criterion-rule"')[1].split("</fieldset>")[0]
    assert 'value="contains"' in rule and 'value="gte"' not in rule
    assert 'type="text" name="value"' in rule
    assert _scoring_snapshot() == before


# --- threshold and auto-qualify ------------------------------------------------------------------


def test_threshold_change_rescores_and_auto_qualifies(
    admin_client_, rep, django_capture_on_commit_callbacks
):
    lead = lead_services.lead_create(actor=rep, last_name="L", budget="yes", need="yes")
    assert not lead.sales_ready
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("settings-scoring-threshold"), {"threshold": "50", "auto_qualify": "yes"}
        )
    assert response.status_code == 302
    settings = ScoringSettings.objects.get()
    assert (settings.threshold, settings.auto_qualify) == (50, True)
    lead.refresh_from_db()
    assert lead.sales_ready and lead.status == LeadStatus.QUALIFIED
    html = admin_client_.get(TAB).content.decode()
    assert "Threshold and auto-qualify saved." in html
    assert 'value="yes" id="threshold-auto_qualify_0" required checked' in html


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"threshold": "abc", "auto_qualify": "no"}, "threshold"),
        ({"threshold": "999999", "auto_qualify": "no"}, "threshold"),
        ({"threshold": "", "auto_qualify": "no"}, "threshold"),
        ({"threshold": "50", "auto_qualify": "maybe"}, "auto_qualify"),
        ({"threshold": "50"}, "auto_qualify"),
    ],
)
def test_bad_threshold_shows_field_errors_and_nothing_changes(admin_client_, data, field):
    before = _scoring_snapshot()
    response = admin_client_.post(reverse("settings-scoring-threshold"), data)
    assert response.status_code == 400
    assert field in response.context["threshold_form"].errors
    assert f'id="threshold-{field}_error"' in response.content.decode()
    assert _scoring_snapshot() == before


def test_threshold_is_post_only(admin_client_):
    assert admin_client_.get(reverse("settings-scoring-threshold")).status_code == 405


# --- the rescoring job ---------------------------------------------------------------------------


def test_a_queued_job_polls_and_has_a_refresh_link_without_javascript(admin_client_):
    job = RescoreJob.objects.create(status=JobStatus.RUNNING, processed=40, total=160)
    html = admin_client_.get(TAB).content.decode()
    part = html.split('id="rescore-job"')[1].split("</section>")[0]
    url = reverse("settings-scoring-job", args=[job.pk])
    assert f'hx-get="{url}" hx-trigger="every 1s"' in part
    assert '<progress id="rescore-progress" max="160" value="40"' in part
    assert "Running" in part and "40 of 160 leads scored" in part
    assert f'href="{TAB}#rescore">Refresh</a>' in part


def test_job_partial_for_htmx_polling(admin_client_):
    job = RescoreJob.objects.create(status=JobStatus.QUEUED)
    url = reverse("settings-scoring-job", args=[job.pk])
    response = admin_client_.get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.startswith('<div id="rescore-job"') and 'hx-trigger="every 1s"' in html
    assert "Queued" in html and "<progress" in html and "HX-Trigger" not in response
    # it finishes: the fragment stops polling, shows the full bar and is announced
    RescoreJob.objects.filter(pk=job.pk).update(status=JobStatus.DONE, processed=7, total=7)
    response = admin_client_.get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "hx-trigger" not in html and "Done" in html
    assert '<progress id="rescore-progress" max="7" value="7"' in html
    assert json.loads(response["HX-Trigger"]) == {"crm:announce": "Rescoring done: 7 leads scored."}
    # without htmx: a page of its own
    page = admin_client_.get(url)
    assert "<html" in page.content.decode() and "Done" in page.content.decode()
    assert admin_client_.get(reverse("settings-scoring-job", args=[9999])).status_code == 404


def test_failed_job_says_so_and_offers_to_rescore(
    admin_client_, rep, django_capture_on_commit_callbacks
):
    RescoreJob.objects.create(status=JobStatus.FAILED, processed=3, total=9, error="boom")
    html = admin_client_.get(TAB).content.decode()
    assert "Failed" in html and "Rescore all leads now" in html and "boom" not in html
    lead = LeadFactory(owner=rep, **BANT)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_.post(reverse("settings-scoring-rescore"))
    assert RescoreJob.objects.order_by("-id").first().status == JobStatus.DONE
    assert Lead.objects.get(pk=lead.pk).score == 100


# --- Reports > Scoring ---------------------------------------------------------------------------


@pytest.fixture
def generated(rep, other_rep):
    """Leads of two reps with known scores and statuses."""
    mine = [
        (0, False, LeadStatus.NEW),
        (10, False, LeadStatus.NEW),
        (25, False, LeadStatus.WORKING),
        (60, False, LeadStatus.WORKING),
        (100, True, LeadStatus.NEW),
        (130, True, LeadStatus.QUALIFIED),
        (-5, False, LeadStatus.WORKING),
        (75, False, LeadStatus.QUALIFIED),  # qualified by hand: counts as sales-ready
        (100, True, LeadStatus.CONVERTED),  # not scored any more: out of the distribution
        (50, False, LeadStatus.UNQUALIFIED),
    ]
    for score, ready, status in mine:
        scored_lead(owner=rep, score=score, sales_ready=ready, status=status)
    scored_lead(owner=rep, score=100, sales_ready=True, archived_at="2024-01-01T00:00Z")
    for score in (300, 5, 5):
        scored_lead(owner=other_rep, score=score, sales_ready=score >= 100)
    return mine


def _by_hand(leads, bucket=25):
    scored = [s for s, _r, st in leads if st in ("new", "working", "qualified")]
    counts = {}
    for s in scored:
        counts[s // bucket] = counts.get(s // bucket, 0) + 1
    lo, hi = min(scored) // bucket, max(scored) // bucket
    return [(b * bucket, b * bucket + bucket - 1, counts.get(b, 0)) for b in range(lo, hi + 1)]


def test_report_numbers_equal_a_hand_count(client, rep, generated):
    client.force_login(rep)
    response = client.get(REPORT)
    assert response.status_code == 200
    data = response.context["data"]
    assert [(b["low"], b["high"], b["count"]) for b in data["buckets"]] == _by_hand(generated)
    assert data["buckets"][0]["low"] == -25  # the -5
    assert data["scored"] == 8
    funnel = {step["key"]: step["count"] for step in data["funnel"]}
    assert funnel == {"new": 10, "sales_ready": 4, "qualified": 3, "converted": 1}
    shares = [str(step["share"]) for step in data["funnel"]]
    assert shares == ["100.0", "40.0", "30.0", "10.0"]
    html = response.content.decode()
    assert "100 to 124" in html and "Only your own leads are counted." in html
    funnel_html = html.split('id="funnel-title"')[1]
    assert "Sales-ready" in funnel_html and "40.0%" in funnel_html


def test_a_rep_never_sees_other_reps_leads_in_the_report(client, rep, other_rep, generated):
    client.force_login(other_rep)
    data = client.get(REPORT).context["data"]
    assert data["scored"] == 3
    assert {step["key"]: step["count"] for step in data["funnel"]}["new"] == 3
    client.force_login(rep)
    data = client.get(REPORT).context["data"]
    assert max(b["high"] for b in data["buckets"]) < 300


def test_admin_sees_every_lead_and_wide_ranges_widen_the_buckets(admin_client_, generated):
    data = admin_client_.get(REPORT).context["data"]
    assert data["scored"] == 11 and data["funnel"][0]["count"] == 13
    # -5 … 300 in ranges of 25 would be 14 bars: they fit; a far outlier widens them
    assert data["size"] == 25
    scored_lead(score=2000)
    data = admin_client_.get(REPORT).context["data"]
    assert data["size"] > 25 and len(data["buckets"]) <= 20
    assert sum(b["count"] for b in data["buckets"]) == 12


def test_report_csv_holds_what_the_page_shows(client, rep, generated):
    client.force_login(rep)
    data = client.get(REPORT).context["data"]
    response = client.get(REPORT, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    start = rows.index(["Score distribution"]) + 2
    got = rows[start : start + len(data["buckets"])]
    assert got == [
        [
            str(b["low"]),
            str(b["high"]),
            str(b["count"]),
            str(b["share"]),
            "Yes" if b["ready"] else "No",
        ]
        for b in data["buckets"]
    ]
    start = rows.index(["Funnel"]) + 2
    assert rows[start : start + 4] == [
        [s["label"], str(s["count"]), str(s["share"])] for s in data["funnel"]
    ]


def test_empty_report_says_so(rep_client):
    html = rep_client.get(REPORT).content.decode()
    assert "No leads are being worked." in html and "No leads yet." in html


def test_report_query_count_does_not_grow_with_leads(admin_client_):
    def count(fmt=None):
        return _count(admin_client_, REPORT, **({"format": fmt} if fmt else {}))

    for i in range(3):
        scored_lead(score=i * 30)
    small, small_csv = count(), count("csv")
    statuses = [LeadStatus.NEW, LeadStatus.QUALIFIED, LeadStatus.CONVERTED, LeadStatus.WORKING]
    for i in range(40):
        scored_lead(score=i * 7 - 20, sales_ready=i % 3 == 0, status=statuses[i % 4])
    assert count() == small
    assert count("csv") == small_csv


def test_reports_index_links_to_the_report(rep_client):
    html = rep_client.get(reverse("report-list")).content.decode()
    assert f'href="{REPORT}"' in html and "Scoring" in html
