"""A bounded schemathesis run over both OpenAPI documents (the gateway's and the retrieval
application's), against the running system with an admin's token: no generated request, valid or
not, may get a 5xx. Bounded: a few examples per operation, so the whole run stays under a minute."""
from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase

from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import admin_and_learner_tokens, bearer, tg  # noqa: F401 - tg is a fixture

EXAMPLES_PER_OPERATION = 12
_SKIPPED = {("POST", "/telegram/webhook")}  # no bot in this system: a fixed 404 for every body


def server_errors(schema_url: str, base_url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Run every operation of the schema; (requests sent, the ones answered with a 5xx)."""
    schema = schemathesis.openapi.from_url(schema_url)
    sent, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in _SKIPPED:
            continue

        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            nonlocal sent
            response = case.call(base_url=base_url, headers=headers, timeout=60)
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {response.status_code}: {response.text[:200]}")

        exercise()
    return sent, failures


async def test_no_generated_request_gets_a_server_error(ray_system: RaySystem, tg: FakeTelegram) -> None:
    admin, _ = await admin_and_learner_tokens(tg, 7_300_001)
    headers = bearer(admin)
    total = 0
    for schema_url in (f"{ray_system.base_url}/openapi.json", f"{ray_system.base_url}/retrieve/openapi.json"):
        sent, failures = await asyncio.to_thread(server_errors, schema_url, ray_system.base_url, headers)
        assert failures == [], failures
        total += sent
    assert total > 100  # every operation of both documents was exercised


def test_every_json_response_of_both_apis_has_a_typed_model() -> None:
    from serve_app.gateway import api
    from serve_app.retrieval_api import api as retrieval

    untyped, typed = [], 0
    for app in (api, retrieval):
        for path, item in app.openapi()["paths"].items():
            for method, operation in item.items():
                for code, response in operation["responses"].items():
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if code.startswith("2") and schema is not None:
                        typed += "$ref" in schema
                        untyped += [] if "$ref" in schema else [f"{method.upper()} {path} {code}"]
    assert untyped == [] and typed >= 30
