"""OpenAPI schema and Swagger UI (API.md: schema at /api/schema/, docs at /api/docs/)."""

import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_endpoint(rep_api):
    response = rep_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/users/",
        "/api/v1/users/me/",
        "/api/v1/teams/",
        "/api/v1/accounts/",
        "/api/v1/contacts/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/complete/",
        "/api/v1/events/",
    ):
        assert path in paths, path


def test_schema_is_yaml_by_default(rep_api):
    response = rep_api.get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"]


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["paths"]


def test_schema_documents_the_contract(rep_api):
    schema = rep_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    components = schema["components"]["schemas"]

    def response_schema(path, method, status):
        content = paths[path][method]["responses"][status]["content"]["application/json"]
        ref = content["schema"]["$ref"].rsplit("/", 1)[-1]
        return components[ref]

    # Creating a user answers with the user, never with the password.
    created = response_schema("/api/v1/users/", "post", "201")
    assert "password" not in created["properties"]
    # The token endpoint answers {"token"}.
    assert "token" in response_schema("/api/v1/auth/token/", "post", "200")["properties"]
    # Events are read-only; teams are never deleted.
    assert set(paths["/api/v1/events/"]) == {"get"}
    assert set(paths["/api/v1/events/{id}/"]) == {"get"}
    assert "delete" not in paths["/api/v1/teams/{id}/"]
    # Ids are integers, including links.
    task = components["Task"]["properties"]
    for field in ("id", "owner", "contact", "lead", "opportunity"):
        assert task[field]["type"] == "integer", field
    assert components["Team"]["properties"]["members"]["items"]["type"] == "integer"
    # Task filters from API.md are documented.
    params = {p["name"] for p in paths["/api/v1/tasks/"]["get"]["parameters"]}
    assert {"owner", "done", "due_before", "due_after", "lead", "contact", "page_size"} <= params


def test_docs_page_uses_only_local_assets(rep_api):
    response = rep_api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"(?:https?:)?//(?!testserver)[\w.-]+\.\w+/", html), re.findall(
        r"(?:https?:)?//[^\s\"']+", html
    )
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith("/"), asset


def test_docs_assets_are_served(rep_api, client):
    html = rep_api.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
