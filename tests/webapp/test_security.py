"""Sign-in throttling, the security headers and settings, and how stored files are served."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests.webapp.factories import png_bytes, vector_bytes
from webapp.library import services as library
from webapp.teams.models import Role

pytestmark = pytest.mark.django_db


def token_attempt(username: str, password: str = "wrong", address: str = "10.0.0.1") -> Any:
    """One POST to the token view from ``address``."""
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_the_token_view_throttles_each_address(make_user: Any) -> None:
    make_user("alice")
    answers = [token_attempt(f"user{i}").status_code for i in range(11)]

    assert answers[:10] == [400] * 10 and answers[10] == 429
    assert token_attempt("someone", address="10.0.0.2").status_code == 400  # another address is not held up


def test_the_token_view_throttles_each_username(make_user: Any) -> None:
    make_user("alice")
    answers = [token_attempt("alice", address=f"10.0.1.{i}").status_code for i in range(11)]
    refused = token_attempt("Alice", "pw", address="10.0.2.1")

    assert answers[:10] == [400] * 10 and answers[10] == 429
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"


def test_an_overlong_username_is_refused_before_any_sign_in_attempt(make_user: Any) -> None:
    from axes.models import AccessAttempt

    answer = token_attempt("x" * 300)

    assert answer.status_code == 400
    assert "username" in answer.json()["error"]["details"]
    assert not AccessAttempt.objects.exists()  # axes never saw it (PostgreSQL refused it: 500)


def admin_login(username: str, password: str, address: str = "10.1.0.1") -> Any:
    """One POST to the admin's sign-in form."""
    return Client(REMOTE_ADDR=address).post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )


def test_repeated_failed_sign_ins_lock_the_account_out(make_user: Any) -> None:
    get_user_model().objects.create_superuser("root", password="right-password")
    failures = [admin_login("root", "wrong", address=f"10.1.0.{i}").status_code for i in range(10)]

    assert failures == [200] * 9 + [429]  # the form again, with an error; the 10th failure locks
    assert admin_login("root", "right-password", address="10.1.1.1").status_code == 429


def test_repeated_failed_sign_ins_lock_the_address_out(make_user: Any) -> None:
    make_user("bob")
    for i in range(10):
        admin_login(f"nobody{i}", "wrong")

    assert admin_login("bob", "pw").status_code == 429
    elsewhere = Client(REMOTE_ADDR="10.1.9.9").post("/sign-in/", {"username": "bob", "password": "pw"})
    assert elsewhere.status_code == 302


def test_every_response_has_a_content_security_policy_without_inline_scripts(client: Any) -> None:
    for path in ["/sign-in/", "/api/me/", "/admin/login/"]:
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'", path
        assert directives["default-src"] == "'self'" and "'unsafe-inline'" not in policy
        assert set(directives["img-src"].split()) == {"'self'", "data:", "blob:"}
        assert directives["connect-src"] == "'self' blob:" and directives["frame-ancestors"] == "'none'"


def test_the_api_docs_need_sign_in_and_run_without_inline_scripts(make_user: Any) -> None:
    anonymous = APIClient()
    assert anonymous.get("/api/schema/").status_code == 401
    assert anonymous.get("/api/docs/").status_code == 401
    signed_in = APIClient()
    signed_in.force_authenticate(make_user("reader"))

    page = signed_in.get("/api/docs/")
    script = signed_in.get("/api/docs/?script=")

    assert page.status_code == 200 and b"<script>" not in page.content
    assert "script-src 'self';" in page["Content-Security-Policy"] + ";"
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert signed_in.get("/api/redoc/").status_code == 404


SETTINGS_PROBE = (
    "import webapp.settings as s\n"
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, getattr(s, 'SECURE_PROXY_SSL_HEADER', None),"
    " s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.seconds, s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']"
    "['sign-in-address'], s.AXES_IPWARE_META_PRECEDENCE_ORDER[0], s.PARTEDIT_PREVIEW_RENDERS_PER_MINUTE)\n"
)


def probe(**env: str) -> str:
    """The security settings production reads from ``env``."""
    base = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = subprocess.run([sys.executable, "-c", SETTINGS_PROBE], env={**base, **env}, capture_output=True,
                            text=True, timeout=60, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_https_and_throttles_are_on_by_default_and_settable() -> None:
    assert probe() == "True 31536000 None 10 900 10/min REMOTE_ADDR 600"
    assert probe(SECURE_COOKIES="0").startswith("False 0 None")
    assert probe(SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="60", TRUST_X_FORWARDED_PROTO="1",
                 PARTEDIT_LOGIN_FAILURE_LIMIT="3", PARTEDIT_LOGIN_COOLOFF_MINUTES="2",
                 PARTEDIT_SIGN_IN_RATE="5/min", PARTEDIT_PROXY_COUNT="1",
                 PARTEDIT_PREVIEW_RENDERS_PER_MINUTE="0") == (
        "False 60 ('HTTP_X_FORWARDED_PROTO', 'https') 3 120 5/min HTTP_X_FORWARDED_FOR 0"
    )


def test_deploy_checks_find_no_https_warnings() -> None:
    base = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "s" * 60 + "-Production-Key-1234567890", "REDIS_URL":
            "redis://127.0.0.1:1/0", "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], env=base, capture_output=True,
                            text=True, timeout=120, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    output = result.stdout + result.stderr
    assert "security.W004" not in output and "security.W008" not in output, output


@pytest.fixture
def library_vector(make_user: Any, make_team: Any, make_model: Any, make_image: Any) -> dict[str, Any]:
    """An owner's client, an image and a vector with thumbnails."""
    owner = make_user("owner")
    model = make_model(make_team("Lab", {owner: Role.OWNER}))
    image = make_image(model)
    thumbs = (png_bytes((16, 16)), png_bytes((16, 16)))
    vector = library.create_edit_vector(owner, model, vector_bytes(model), "v", thumbnails=thumbs)
    client = APIClient()
    client.force_authenticate(owner)
    return {"client": client, "image": image, "vector": vector, "owner": owner}


@pytest.mark.parametrize(
    ("url", "content_type", "disposition"),
    [
        ("/api/images/{image}/normalized/", "image/png", "inline"),
        ("/api/images/{image}/original/", "image/png", "inline"),
        ("/api/vectors/{vector}/after/", "image/png", "inline"),
        ("/api/vectors/{vector}/vector/", "application/octet-stream", "attachment"),
    ],
)
def test_images_are_served_inline_with_their_type_and_nosniff(
    library_vector: dict[str, Any], url: str, content_type: str, disposition: str
) -> None:
    ids = {"image": library_vector["image"].pk, "vector": library_vector["vector"].pk}
    response = library_vector["client"].get(url.format(**ids))

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith(disposition)
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_admin_links_files_to_the_checked_file_views(library_vector: dict[str, Any]) -> None:
    operator = library_vector["owner"]
    operator.is_staff = operator.is_superuser = True
    operator.save()
    browser = Client()
    browser.force_login(operator)
    image, vector = library_vector["image"], library_vector["vector"]

    image_page = browser.get(f"/admin/assets/image/{image.pk}/change/").content.decode()
    vector_page = browser.get(f"/admin/library/editvector/{vector.pk}/change/").content.decode()

    assert f'href="/api/images/{image.pk}/original/"' in image_page and "/media/" not in image_page
    assert f'href="/api/vectors/{vector.pk}/after/"' in vector_page and "/media/" not in vector_page
    assert browser.get(f"/api/images/{image.pk}/original/").status_code == 200
