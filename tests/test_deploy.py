"""The deployment files agree with each other and with the app, so they cannot drift apart: compose.yaml,
the Dockerfile, the nginx template (the one the replicas tests run, tests/nginx.py) and
mnist_cnn/config.py. Docker itself is not needed: the files are read, not run."""

from __future__ import annotations

import re

import nginx
import pytest
import yaml

from mnist_cnn import config

COMPOSE = yaml.safe_load((config.REPO_ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (config.REPO_ROOT / "Dockerfile").read_text()
TEMPLATE = nginx.TEMPLATE.read_text()
APP_PORT = 8501


def app_services() -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if s.get("image") == "mnist-draw"}


def nginx_directive(name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", TEMPLATE, re.M)


def test_nginx_sends_to_every_app_replica_and_nothing_else():
    apps = app_services()
    assert len(apps) >= 2 and all(s.get("build") == "." for s in apps.values())
    servers = SERVICES["nginx"]["environment"]["MNIST_DRAW_REPLICAS"]
    assert sorted(re.findall(r"server (\S+);", servers)) == sorted(f"{name}:{APP_PORT}" for name in apps)
    assert f"EXPOSE {APP_PORT}" in DOCKERFILE and f'"--server.port", "{APP_PORT}"' in DOCKERFILE


def test_compose_runs_the_tests_nginx_template_with_every_placeholder_filled():
    mounts = [v.split(":") for v in SERVICES["nginx"]["volumes"]]
    assert ["./deploy/nginx.conf.template", "/etc/nginx/templates/default.conf.template", "ro"] in mounts
    placeholders = set(re.findall(r"\$\{(\w+)\}", TEMPLATE))
    assert placeholders == {"MNIST_DRAW_LISTEN", "MNIST_DRAW_REPLICAS"} == set(SERVICES["nginx"]["environment"])
    assert "${" not in nginx.site_config("127.0.0.1:8080", ["127.0.0.1:8501"])


def test_nginx_keeps_a_browser_on_one_replica_by_the_apps_own_cookie():
    assert nginx_directive("hash") == ["$mnist_draw_sticky consistent"]
    assert f"map $cookie_{config.BROWSER_COOKIE} $mnist_draw_sticky" in TEMPLATE


def test_nginx_passes_the_websocket_and_the_apps_routes_with_room_for_their_bodies():
    locations = re.findall(r"^\s*location\s+(.+?)\s*\{", TEMPLATE, re.M)
    assert {"/_stcore/stream", f"= {config.PREDICT_ROUTE}", f"= {config.TRAINING_ROUTE}", "/"} <= set(locations)
    assert "proxy_http_version 1.1" in TEMPLATE and "proxy_set_header Upgrade $http_upgrade" in TEMPLATE
    sizes = [int(s.rstrip("m")) * 2**20 for s in nginx_directive("client_max_body_size")]
    assert max(sizes) > config.MAX_UPLOAD_MB * 2**20
    assert min(sizes) >= config.MAX_PREDICT_PNG_BYTES


@pytest.mark.parametrize("name", sorted(app_services()))
def test_every_replica_shares_the_models_volume_and_the_database(name):
    service = app_services()[name]
    env = service["environment"]
    known = {v for k, v in vars(config).items() if k.endswith("_ENV")}
    assert {k for k in env if not k.startswith("STREAMLIT_")} <= known, "a setting the app does not read"
    assert "STREAMLIT_SERVER_COOKIE_SECRET" in env  # one secret: a browser moved to another replica keeps working
    home = env[config.HOME_ENV]
    assert f"models:{home}" in service["volumes"] and "models" in COMPOSE["volumes"]
    assert f"{config.HOME_ENV}={home}" in DOCKERFILE  # the image alone (docker run) uses the same folder
    database = env[config.DATABASE_URL_ENV]
    assert database.startswith("postgresql://") and "@postgres:5432/" in database
    assert config.ADMIN_PASSWORD_ENV in env, "a shared server has an admin"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_image_is_python_3_11_with_the_pinned_requirements_and_the_shipped_models():
    assert DOCKERFILE.startswith("#") and "\nFROM python:3.11-slim\n" in DOCKERFILE
    assert "COPY requirements.txt" in DOCKERFILE and "pip install -r requirements.txt" in DOCKERFILE
    assert "COPY models models" in DOCKERFILE and "COPY mnist_cnn mnist_cnn" in DOCKERFILE
    assert "\nUSER app\n" in DOCKERFILE
