"""Schemathesis over every operation of the OpenAPI schema, as a rep and as an admin.

Every operation is fuzzed in-process (WSGI, same database transaction as the test) against a
realistic database: leads, contacts, accounts, opportunities, tasks and tags owned by the rep and
by others. Integer path ids are half of the time swapped for ids of real rows, so that detail,
update and action endpoints reach their code instead of stopping at a 404.

Checks: no 5xx (``not_a_server_error``), documented status codes, documented content types,
response bodies matching the schema. Generation is deterministic (``derandomize``), bounded and
without deadline so the whole file stays well under three minutes on two cores.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import (
    AccountFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    TagFactory,
    TaskFactory,
    UserFactory,
)

MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _keep_connection():
    """A real WSGI request closes the database connection when it ends (as Django's test client
    avoids): keep it, the rows of this test live in its open transaction."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(rep, admin):
    """A few rows of each kind, owned by the rep and by somebody else; returns the real ids."""
    other = UserFactory(username="someone")
    rows = []
    for owner in (rep, other, admin):
        account = AccountFactory(owner=owner)
        contact = ContactFactory(owner=owner)
        rows += [account, contact, LeadFactory(owner=owner), TaskFactory(owner=owner)]
        rows.append(OpportunityFactory(contact=contact))
    rows += [TagFactory(), TagFactory()]
    return sorted({row.pk for row in rows} | {rep.pk, other.pk, admin.pk})


def _operations():
    app = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    operations = []
    for result in schema.get_all_operations():
        operations.append(result.ok())
    return operations


def _fuzz(operation, token, real_ids):
    """Run one operation; any failing check raises (and hypothesis shrinks and reports it)."""
    int_params = [
        p.name
        for p in operation.path_parameters
        if (p.definition.get("schema") or {}).get("type") == "integer"
    ]

    n = len(int_params)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(),
        real=st.lists(st.sampled_from(real_ids), min_size=n, max_size=n),
        use_real=st.booleans(),
    )
    def run(case, real, use_real):
        if use_real and case.path_parameters:
            for name, value in zip(int_params, real, strict=True):
                case.path_parameters[name] = value
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)

    run()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["rep", "admin"])
def test_every_operation_survives_fuzzing(who, request, world, _keep_connection):
    """Every operation of the schema is fuzzed (nothing is excluded): the webhook/HMAC and
    upload endpoints, if any, are fuzzed too, where they must answer 4xx, never 5xx."""
    user = request.getfixturevalue(who)
    token, _ = Token.objects.get_or_create(user=user)
    operations = _operations()
    assert len(operations) > 20, "the schema lost its operations"
    failures = []
    for operation in operations:
        try:
            _fuzz(operation, token.key, world)
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect them all: one report lists every broken operation
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
