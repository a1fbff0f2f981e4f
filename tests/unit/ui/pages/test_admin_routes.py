"""/admin/settings shows the live routes and circuits of the serving process (admins only)."""

from __future__ import annotations

from types import SimpleNamespace

from assistant.generation.routing import Router
from assistant.settings import RoutingSettings
from tests.unit.generation.fakes import ScriptedGenerator
from tests.unit.ui.pages.conftest import Pages


def test_admin_settings_shows_each_route_step_and_its_circuit(pages: Pages) -> None:
    settings = pages.container.settings
    settings.routing = RoutingSettings(
        endpoints={"primary": {"kind": "openai", "base_url": "http://gpu1:8000/v1", "model": "qwen-32b",
                               "api_key": "sk-route-secret"}},
        routes={"public": ["primary", "extractive"]}, failure_threshold=1)
    pages.as_user("root")
    before = pages.get("/admin/settings").text
    assert "Model routes" in before and "qwen-32b" in before and "badge ok\">closed" in before  # not built yet

    router = Router(settings, lambda: {}, build=lambda ep, _g: ScriptedGenerator(model=ep.model))
    router.endpoints["primary"].breaker.failure("unreachable")  # type: ignore[union-attr]
    pages.client.app.state.services._answerer = SimpleNamespace(router=router)
    body = pages.get("/admin/settings").text
    assert "badge warn\">open" in body and "unreachable" in body and "sk-route-secret" not in body

    pages.as_user("alice")
    assert "qwen-32b" not in pages.get("/admin/settings").text
