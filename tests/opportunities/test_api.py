"""API.md § Opportunities: stages, reasons, settings, opportunities, ensure, move."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Event
from opportunities import services
from opportunities.models import Opportunity, Stage, WinReason
from tests.factories import ContactFactory, OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db

OPP_FIELDS = {
    "id",
    "name",
    "contact",
    "owner",
    "stage",
    "amount",
    "win_reason",
    "loss_reason",
    "status",
    "closed_at",
    "created_at",
}


def _url(opp=None, action=""):
    base = "/api/v1/opportunities/"
    if opp is None:
        return base + (f"{action}/" if action else "")
    return f"{base}{opp.pk}/" + (f"{action}/" if action else "")


def test_create_returns_201_with_the_contract_fields(rep, rep_api, pipeline):
    contact = ContactFactory(owner=rep)
    r = rep_api.post(_url(), {"name": "Deal", "contact": contact.pk, "amount": "99.90"})
    assert r.status_code == 201, r.json()
    body = r.json()
    assert set(body) >= OPP_FIELDS
    assert (body["stage"], body["status"], body["owner"], body["amount"]) == (
        pipeline["Prospecting"].pk,
        "open",
        rep.pk,
        "99.90",
    )


def test_contact_of_another_rep_is_does_not_exist(rep_api, other_rep):
    r = rep_api.post(_url(), {"name": "Deal", "contact": ContactFactory(owner=other_rep).pk})
    assert r.status_code == 400 and "contact" in r.json()
    assert not Opportunity.objects.exists()


def test_other_reps_opportunity_is_404(rep_api, other_rep):
    opp = OpportunityFactory(contact=ContactFactory(owner=other_rep))
    assert rep_api.get(_url(opp)).status_code == 404
    assert rep_api.patch(_url(opp), {"amount": "1"}).status_code == 404
    assert rep_api.post(_url(opp, "move"), {"stage": opp.stage_id}).status_code == 404


@pytest.mark.parametrize("switch", [True, False])
def test_win_reason_switch_over_the_api(admin_api, rep, rep_api, pipeline, switch):
    r = admin_api.patch("/api/v1/settings/opportunities/", {"require_win_reason": switch})
    assert r.status_code == 200 and r.json()["require_win_reason"] is switch
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    r = rep_api.patch(_url(opp), {"stage": pipeline["Won"].pk})
    if switch:
        assert r.status_code == 400 and "win_reason" in r.json(), r.json()
        assert Opportunity.objects.get(pk=opp.pk).status == "open"
        price = pipeline["win_reasons"]["Price"]
        r = rep_api.patch(_url(opp), {"stage": pipeline["Won"].pk, "win_reason": price.pk})
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "won" and r.json()["closed_at"]


@pytest.mark.parametrize("switch", [True, False])
def test_loss_reason_switch_over_the_api(admin_api, rep, rep_api, pipeline, switch):
    r = admin_api.patch("/api/v1/settings/opportunities/", {"require_loss_reason": switch})
    assert r.status_code == 200
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    r = rep_api.post(_url(opp, "move"), {"stage": pipeline["Lost"].pk})
    if switch:
        assert r.status_code == 400 and "loss_reason" in r.json(), r.json()
        assert Opportunity.objects.get(pk=opp.pk).status == "open"
    else:
        assert r.status_code == 200 and r.json()["status"] == "lost"


def test_reopening_clears_the_reason(rep, rep_api, pipeline):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    price = pipeline["win_reasons"]["Price"]
    rep_api.post(_url(opp, "move"), {"stage": pipeline["Won"].pk, "win_reason": price.pk})
    r = rep_api.post(_url(opp, "move"), {"stage": pipeline["Proposal"].pk})
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["win_reason"], r.json()["closed_at"]) == (
        "open",
        None,
        None,
    )


def test_status_cannot_be_written(rep, rep_api):
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    r = rep_api.patch(_url(opp), {"status": "won"})
    assert r.status_code == 400 and "status" in r.json()


def test_filter_by_win_reason_and_by_loss_reason(rep, rep_api, pipeline):
    wr, lr = pipeline["win_reasons"], pipeline["loss_reasons"]
    deals = {}
    for name, stage, kw in [
        ("won-price", "Won", {"win_reason": wr["Price"]}),
        ("won-price-2", "Won", {"win_reason": wr["Price"]}),
        ("won-rel", "Won", {"win_reason": wr["Relationship"]}),
        ("lost-budget", "Lost", {"loss_reason": lr["No budget"]}),
        ("lost-comp", "Lost", {"loss_reason": lr["Chose a competitor"]}),
        ("open", None, {}),
    ]:
        opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep), name=name)
        if stage:
            services.opportunity_move(actor=rep, opportunity=opp, stage=pipeline[stage], **kw)
        deals[name] = opp

    def names(query):
        r = rep_api.get(_url() + query)
        assert r.status_code == 200, r.json()
        return {o["name"] for o in r.json()["results"]}

    assert names(f"?win_reason={wr['Price'].pk}") == {"won-price", "won-price-2"}
    assert names(f"?win_reason={wr['Relationship'].pk}") == {"won-rel"}
    assert names(f"?loss_reason={lr['No budget'].pk}") == {"lost-budget"}
    assert names("?status=lost") == {"lost-budget", "lost-comp"}
    assert names(f"?stage={pipeline['Prospecting'].pk}") == {"open"}
    assert rep_api.get(_url() + "?win_reason=abc").status_code == 400


def test_list_query_count_is_constant(rep, rep_api, pipeline):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            r = rep_api.get(_url() + "?page_size=200")
        assert r.status_code == 200
        return len(ctx.captured_queries), len(r.json()["results"])

    for _ in range(5):
        OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    few = count()
    for _ in range(40):
        OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    many = count()
    assert (few[1], many[1]) == (5, 45)
    assert few[0] == many[0] <= 4


# --- ensure --------------------------------------------------------------------------------------


def test_ensure_201_then_200_with_the_same_deal(admin_api, rep, pipeline):
    contact = ContactFactory(owner=rep)
    r1 = admin_api.post(_url(action="ensure"), {"contact": contact.pk, "name": "Auto"})
    assert r1.status_code == 201, r1.json()
    assert (r1.json()["stage"], r1.json()["owner"]) == (pipeline["Prospecting"].pk, rep.pk)
    other = UserFactory(username="carla")
    r2 = admin_api.post(
        _url(action="ensure"), {"contact": contact.pk, "name": "Again", "owner": other.pk}
    )
    assert r2.status_code == 200 and r2.json()["id"] == r1.json()["id"]
    assert r2.json()["owner"] == rep.pk  # untouched


def test_ensure_for_a_rep_when_another_rep_is_engaged(rep, rep_api, other_rep, pipeline):
    contact = ContactFactory(owner=rep)
    theirs = OpportunityFactory(contact=contact, owner=other_rep)
    r = rep_api.post(_url(action="ensure"), {"contact": contact.pk, "name": "Mine"})
    assert r.status_code == 409 and "detail" in r.json()
    assert theirs.name not in r.content.decode()
    assert Opportunity.objects.filter(contact=contact).count() == 1


def test_ensure_on_an_invisible_contact_is_400(rep_api, other_rep):
    contact = ContactFactory(owner=other_rep)
    r = rep_api.post(_url(action="ensure"), {"contact": contact.pk, "name": "X"})
    assert r.status_code == 400 and "contact" in r.json()
    assert not Opportunity.objects.exists()


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_ensure_calls_make_exactly_one_opportunity():
    """Threads, each with its own Postgres connection, released at once by a barrier."""
    assert connection.vendor == "postgresql"
    owner = UserFactory(username="owner")
    contact = ContactFactory(owner=owner)
    n = 50
    barrier = threading.Barrier(n)
    results, errors = [], []
    lock = threading.Lock()

    def worker():
        from django.db import connection as conn

        try:
            barrier.wait(timeout=30)
            opp, created = services.opportunity_ensure(actor=owner, contact=contact, name="Auto")
            with lock:
                results.append((opp.pk, created))
        except Exception as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == n
    assert Opportunity.objects.filter(contact=contact).count() == 1
    only = Opportunity.objects.get(contact=contact)
    assert sum(created for _pk, created in results) == 1
    assert {pk for pk, _created in results} == {only.pk}
    assert Event.objects.filter(opportunity=only, kind="created").count() == 1


# --- stages, reasons, settings -------------------------------------------------------------------


def test_stages_admin_writes_rep_reads(admin_api, rep_api):
    r = rep_api.get("/api/v1/stages/")
    assert r.status_code == 200
    assert [s["name"] for s in r.json()["results"]][:2] == ["Prospecting", "Qualification"]
    assert {"id", "name", "order", "probability"} <= set(r.json()["results"][0])
    assert rep_api.post("/api/v1/stages/", {"name": "Demo"}).status_code == 403
    r = admin_api.post("/api/v1/stages/", {"name": "Demo", "probability": 40})
    assert r.status_code == 201 and r.json()["probability"] == 40
    r = admin_api.post("/api/v1/stages/", {"name": "Bad", "probability": 140})
    assert r.status_code == 400 and "probability" in r.json()


def test_deleting_a_used_stage_archives_it(admin_api, rep, pipeline):
    r = admin_api.post("/api/v1/stages/", {"name": "Demo"})
    stage = Stage.objects.get(pk=r.json()["id"])
    OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep), stage=stage)
    assert admin_api.delete(f"/api/v1/stages/{stage.pk}/").status_code == 204
    assert Stage.objects.get(pk=stage.pk).archived
    r = admin_api.delete(f"/api/v1/stages/{pipeline['Won'].pk}/")
    assert r.status_code == 400 and "detail" in r.json()


@pytest.mark.parametrize("path", ["win-reasons", "loss-reasons"])
def test_reasons_contract(admin_api, rep_api, rep, pipeline, path):
    r = rep_api.get(f"/api/v1/{path}/")
    assert r.status_code == 200
    row = r.json()["results"][0]
    assert {"id", "name", "archived", "usage_count"} <= set(row)
    assert rep_api.post(f"/api/v1/{path}/", {"name": "X"}).status_code == 403
    r = admin_api.post(f"/api/v1/{path}/", {"name": "Great demo"})
    assert r.status_code == 201 and r.json()["usage_count"] == 0
    r = admin_api.patch(f"/api/v1/{path}/{r.json()['id']}/", {"name": "Great demo day"})
    assert r.status_code == 200 and r.json()["name"] == "Great demo day"


def test_used_win_reason_is_archived_and_hidden_from_pickers(admin_api, rep, pipeline):
    price = pipeline["win_reasons"]["Price"]
    opp = OpportunityFactory(owner=rep, contact=ContactFactory(owner=rep))
    services.opportunity_move(actor=rep, opportunity=opp, stage=pipeline["Won"], win_reason=price)
    assert admin_api.delete(f"/api/v1/win-reasons/{price.pk}/").status_code == 204
    assert WinReason.objects.get(pk=price.pk).archived
    names = [
        r["name"] for r in admin_api.get("/api/v1/win-reasons/?archived=false").json()["results"]
    ]
    assert "Price" not in names


def test_settings_contract(admin_api, rep_api, pipeline):
    r = rep_api.get("/api/v1/settings/opportunities/")
    assert r.status_code == 200
    body = r.json()
    assert {
        "active_stages",
        "default_stage",
        "win_stage",
        "require_win_reason",
        "loss_stage",
        "require_loss_reason",
    } <= set(body)
    assert body["win_stage"] == pipeline["Won"].pk
    assert (
        rep_api.patch("/api/v1/settings/opportunities/", {"require_win_reason": False}).status_code
        == 403
    )
    r = admin_api.patch(
        "/api/v1/settings/opportunities/",
        {
            "active_stages": [pipeline["Qualification"].pk, pipeline["Proposal"].pk],
            "default_stage": pipeline["Qualification"].pk,
        },
    )
    assert r.status_code == 200, r.json()
    assert r.json()["active_stages"] == [pipeline["Qualification"].pk, pipeline["Proposal"].pk]
    # The default stage must stay active (else automation would duplicate deals).
    r = admin_api.patch(
        "/api/v1/settings/opportunities/", {"active_stages": [pipeline["Proposal"].pk]}
    )
    assert r.status_code == 400 and "active_stages" in r.json()
    r = admin_api.patch("/api/v1/settings/opportunities/", {"default_stage": None}, format="json")
    assert r.status_code == 400 and "default_stage" in r.json()
    r = admin_api.patch("/api/v1/settings/opportunities/", {"loss_stage": pipeline["Won"].pk})
    assert r.status_code == 400 and "loss_stage" in r.json()
    r = admin_api.patch("/api/v1/settings/opportunities/", {"active_stages": [999999]})
    assert r.status_code == 400 and "active_stages" in r.json()
