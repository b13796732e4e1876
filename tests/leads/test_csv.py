import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import Event
from leads.models import Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _upload(api, text, **extra):
    f = SimpleUploadedFile("leads.csv", text.encode("utf-8"), content_type="text/csv")
    return api.post("/api/v1/leads/import/", {"file": f, **extra}, format="multipart")


GOOD_AND_BAD = (
    "first_name,last_name,company,email,source,company_size,owner\n"
    "Ana,García,Acme,ana@acme.es,Web,11-50,\n"
    "Luis,,Beta,luis@beta.es,Web,,\n"  # missing last name
    "Eva,Soto,Gamma,not-an-email,Fair,,\n"  # bad email
    "Juan,Ruiz,Delta,juan@delta.es,Fair,,nobody\n"  # unknown owner
    "Marta,López,Epsilon,marta@eps.es,Fair,,other\n"
)


def test_dry_run_previews_and_writes_nothing(rep_api, other_rep):
    r = _upload(rep_api, GOOD_AND_BAD, dry_run="true")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["valid"], body["invalid"], body["imported"]) == (2, 3, 0)
    errors = {e["line"]: e["errors"] for e in body["errors"]}
    assert set(errors) == {3, 4, 5}
    assert "last_name" in errors[3] and "email" in errors[4] and "owner" in errors[5]
    assert not Lead.objects.exists()


def test_import_writes_valid_rows_and_reports_the_others(rep, rep_api, other_rep):
    r = _upload(rep_api, GOOD_AND_BAD)
    assert r.status_code == 201
    assert r.json()["imported"] == 2
    ana = Lead.objects.get(email="ana@acme.es")
    assert (ana.owner, ana.company_size, ana.status) == (rep, "11-50", "new")
    assert Lead.objects.get(email="marta@eps.es").owner == other_rep
    assert Lead.objects.count() == 2
    assert Event.objects.filter(kind="imported").count() == 2


@pytest.mark.parametrize(
    "content",
    ["", "nombre;apellido\nA;B\n", "last_name\n", "\x00\x01garbage"],
)
def test_bad_files_are_400_and_change_nothing(rep_api, content):
    r = _upload(rep_api, content)
    assert r.status_code == 400
    assert "file" in r.json()
    assert not Lead.objects.exists()


def test_semicolon_separated_file_with_bom(rep_api):
    text = "\ufefflast_name;email\nPérez;p@x.es\n"
    assert _upload(rep_api, text).status_code == 201
    assert Lead.objects.get().last_name == "Pérez"


def test_export_respects_filters_and_visibility(rep, other_rep, rep_api):
    LeadFactory(owner=rep, source="Web", last_name="Mine-web")
    LeadFactory(owner=rep, source="Fair", last_name="Mine-fair")
    LeadFactory(owner=other_rep, source="Web", last_name="Theirs")
    r = rep_api.get("/api/v1/leads/export/?source=Web")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert [row["last_name"] for row in rows] == ["Mine-web"]
    assert rows[0]["owner"] == "rep"


def test_export_neutralises_formulas(rep, rep_api):
    LeadFactory(owner=rep, company='=HYPERLINK("http://x")')
    r = rep_api.get("/api/v1/leads/export/")
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0]["company"].startswith("'=")


def test_export_round_trips_through_import(rep, rep_api):
    LeadFactory(owner=rep, first_name="Ana", last_name="Gil", email="ana@gil.es")
    exported = b"".join(rep_api.get("/api/v1/leads/export/").streaming_content).decode()
    Lead.objects.all().delete()
    assert _upload(rep_api, exported).json()["imported"] == 1
    assert Lead.objects.get().email == "ana@gil.es"
