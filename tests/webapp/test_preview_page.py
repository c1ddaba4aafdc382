"""The preview page (the studio's Sample page) and its static ES modules are served by the webapp itself."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webapp import celery_app


@pytest.mark.django_db
def test_page_has_controls_and_loads_the_module(client: Client) -> None:
    client.force_login(get_user_model().objects.create_user("sampler", password="pw"))
    response = client.get("/sample/")

    assert response.status_code == 200
    html = response.content.decode()
    for control in ('id="seed"', 'id="psi"', 'type="range"', 'id="frame"'):
        assert control in html
    assert '<script type="module" src="/static/preview/main.js">' in html


@pytest.mark.parametrize("name", ["main.js", "preview_socket.js"])
def test_es_modules_are_served_as_javascript(client: Client, name: str) -> None:
    response = client.get(f"/static/preview/{name}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")


def test_preview_tasks_route_to_preview_queue_and_others_to_gpu() -> None:
    router = celery_app.amqp.router

    assert router.route({}, "preview.render_preview")["queue"].name == "preview"
    assert router.route({}, "jobs.run_edit")["queue"].name == "gpu"
