"""The Spanish catalog is complete, and pages come back in the language the browser asks for."""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

PO_ES = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"


def _unquote(text: str) -> str:
    # PO strings use C escapes, which a Python string literal reads the same way.
    return ast.literal_eval(text.strip())


def parse_po(path: Path) -> list[dict]:
    """A small .po reader: a list of entries ``{"flags", "obsolete", "msgid", "msgstr": [...]}``."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = {"flags": set(), "obsolete": False, "fields": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith('"'):
                entry["fields"][key] += _unquote(line)
            else:
                key, _, value = line.partition(" ")
                entry["fields"][key] = _unquote(value)
        if "msgid" in entry["fields"]:
            fields = entry.pop("fields")
            entry["msgid"] = fields["msgid"]
            entry["msgstr"] = [v for k, v in fields.items() if k.startswith("msgstr")]
            entry["plural"] = "msgid_plural" in fields
            entries.append(entry)
    return entries


def test_spanish_catalog_is_complete():
    entries = [e for e in parse_po(PO_ES) if not e["obsolete"]]
    header = next(e for e in entries if e["msgid"] == "")
    assert "Language: es" in header["msgstr"][0]
    messages = [e for e in entries if e["msgid"]]
    assert len(messages) > 100
    untranslated = [e["msgid"] for e in messages if not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []
    # Plural entries need every form Spanish has (nplurals), or some counts fall back to English.
    nplurals = int(header["msgstr"][0].split("nplurals=")[1].split(";")[0])
    short = [e["msgid"] for e in messages if e["plural"] and len(e["msgstr"]) != nplurals]
    assert short == []


def test_compiled_catalog_is_there():
    assert PO_ES.with_suffix(".mo").exists()


@pytest.mark.django_db
def test_page_in_spanish_from_accept_language(rep_client):
    response = rep_client.get(reverse("contact-list"), HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="es"' in html
    assert "Contactos" in html
    assert "Nuevo contacto" in html
    assert "Buscar contactos" in html
    assert "New contact" not in html


@pytest.mark.django_db
def test_login_page_in_spanish(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    assert "Iniciar sesión" in response.content.decode()


@pytest.mark.django_db
def test_dates_localized_in_spanish(rep_client, rep):
    import datetime as dt

    from tests.factories import TaskFactory

    TaskFactory(owner=rep, title="Fecha", due_on=dt.date(2031, 1, 31))
    html = rep_client.get(reverse("task-list"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "31/01/2031" in html
    html = rep_client.get(reverse("task-list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "01/31/2031" in html


@pytest.mark.django_db
def test_money_localized_in_spanish(rep_client, rep):
    from tests.factories import ContactFactory, OpportunityFactory

    OpportunityFactory(contact=ContactFactory(owner=rep), owner=rep, amount="12345.67")
    html = rep_client.get(reverse("opportunity-list"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    # Decimal comma and grouped thousands (Django's es format groups with a no-break space; the
    # house style's "12.345,67" needs FORMAT_MODULE_PATH in settings).
    assert "12\xa0345,67" in html or "12.345,67" in html
    html = rep_client.get(reverse("opportunity-list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "12,345.67" in html


@pytest.mark.django_db
def test_language_switcher_sets_spanish(rep_client):
    response = rep_client.post(
        reverse("set_language"), {"language": "es", "next": reverse("account-list")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account-list")
    html = rep_client.get(reverse("account-list")).content.decode()
    assert "Cuentas" in html and "Nueva cuenta" in html
