"""The Kubernetes manifests: valid objects of the Kubernetes API, one web/worker/beat/migration
set per service, and the same routing as the compose gateway."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from deploy_support import EXPECTED_ROUTES, REPO, SERVICES

K8S = REPO / "deploy" / "k8s"


def _find(objects: list[tuple[str, dict[str, Any]]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for _, o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = _pod(obj)["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _workloads(objects: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [o for _, o in objects if o["kind"] in ("Deployment", "Job")]


def test_manifests_are_valid_kubernetes_objects(k8s_objects, k8s_validator):
    errors = [
        f"{path} {obj.get('kind')} {obj.get('metadata', {}).get('name')}: {error}"
        for path, obj in k8s_objects
        for error in k8s_validator(obj)
    ]
    assert errors == []
    for _, obj in k8s_objects:
        assert obj["apiVersion"]
        assert obj["kind"]
        assert obj["metadata"]["name"]


def test_schema_check_catches_a_misspelt_field(k8s_objects, k8s_validator):
    web = copy.deepcopy(_find(k8s_objects, "Deployment", "diary-web"))
    web["spec"]["replica"] = web["spec"].pop("replicas")
    errors = k8s_validator(web)
    assert any("replica" in error for error in errors)


def test_kustomization_applies_every_manifest_and_only_existing_ones():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    images = {image["name"] for image in kustomization["images"]}
    assert images == {f"clinic-recovery/{service}" for service in SERVICES}


def test_every_deployment_selects_its_own_pods(k8s_objects):
    for _, obj in k8s_objects:
        if obj["kind"] != "Deployment":
            continue
        selector = obj["spec"]["selector"]["matchLabels"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), obj["metadata"]["name"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_web_worker_beat_and_a_migration_job(k8s_objects, service):
    web = _find(k8s_objects, "Deployment", f"{service}-web")
    worker = _find(k8s_objects, "Deployment", f"{service}-worker")
    beat = _find(k8s_objects, "Deployment", f"{service}-beat")
    job = _find(k8s_objects, "Job", f"{service}-migrate")

    assert web["spec"]["replicas"] == 2
    container = _container(web)
    assert container["command"][0] == "gunicorn"
    assert f"{service}.wsgi:application" in container["command"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in (container["readinessProbe"], container["livenessProbe"]):
        assert probe["httpGet"]["port"] in ("http", 8000)

    assert _container(worker)["command"][:4] == ["celery", "-A", f"{service}.celery_app", "worker"]
    queues = _container(worker)["command"][_container(worker)["command"].index("-Q") + 1]
    assert queues.split(",")[0] == service

    # One beat, and a rollout that never runs two at once.
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert _container(beat)["command"][:4] == ["celery", "-A", f"{service}.celery_app", "beat"]

    assert _container(job)["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert _pod(job)["restartPolicy"] == "Never"

    for workload in (web, worker, beat, job):
        assert _container(workload)["image"] == f"clinic-recovery/{service}"


def test_container_commands_name_modules_that_exist(k8s_objects):
    for obj in _workloads(k8s_objects):
        command = _container(obj)["command"]
        service = _container(obj)["image"].rsplit("/", 1)[1]
        package = REPO / "services" / service / service
        if command[0] == "gunicorn":
            module = next(part for part in command if part.endswith(":application"))
            assert (package / f"{module.split('.')[1].split(':')[0]}.py").is_file()
            assert module.split(".")[0] == service
        elif command[0] == "celery":
            module = command[command.index("-A") + 1]
            assert module == f"{service}.celery_app"
            assert (package / "celery_app.py").is_file()
        else:
            assert command[:2] == ["python", "manage.py"]
            assert (REPO / "services" / service / "manage.py").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_service_sends_traffic_to_web_pods_only(k8s_objects, service):
    svc = _find(k8s_objects, "Service", service)
    selector = svc["spec"]["selector"]
    for role in ("web", "worker", "beat"):
        labels = _find(k8s_objects, "Deployment", f"{service}-{role}")["spec"]["template"]
        matches = selector.items() <= labels["metadata"]["labels"].items()
        assert matches == (role == "web"), role
    assert {port["name"]: port["port"] for port in svc["spec"]["ports"]} == {"http": 8000}


def test_ingress_routes_like_the_compose_gateway(k8s_objects):
    ingress = next(o for _, o in k8s_objects if o["kind"] == "Ingress")
    routes = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["pathType"] == "Prefix"
            backend = path["backend"]["service"]
            service = _find(k8s_objects, "Service", backend["name"])
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
            routes[path["path"]] = backend["name"]
    assert routes == EXPECTED_ROUTES
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "2m"


def test_every_setting_a_service_requires_reaches_each_container(k8s_objects, required_env):
    config_maps = {
        obj["metadata"]["name"]: set(obj.get("data", {}))
        for _, obj in k8s_objects
        if obj["kind"] == "ConfigMap"
    }
    missing = []
    for obj in _workloads(k8s_objects):
        container = _container(obj)
        service = container["image"].rsplit("/", 1)[1]
        provided = {item["name"] for item in container.get("env", [])}
        for source in container.get("envFrom", []):
            name = source["configMapRef"]["name"]
            assert name in config_maps, f"{obj['metadata']['name']}: no ConfigMap {name}"
            provided |= config_maps[name]
        for name in sorted(required_env[service]):
            if name not in provided and f"{name}_FILE" not in provided:
                missing.append(f"{obj['metadata']['name']}: {name}")
    assert missing == []


def test_secrets_come_from_secret_objects_never_from_config_maps(k8s_objects):
    for _, obj in k8s_objects:
        if obj["kind"] == "ConfigMap":
            assert not {"DJANGO_SECRET_KEY", "DATABASE_URL"} & set(obj.get("data", {}))
    for obj in _workloads(k8s_objects):
        container = _container(obj)
        service = container["image"].rsplit("/", 1)[1]
        env = {item["name"]: item for item in container["env"]}
        for name in ("DJANGO_SECRET_KEY", "DATABASE_URL"):
            reference = env[name]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": f"{service}-secrets", "key": name}


def test_containers_declare_resources_and_run_unprivileged(k8s_objects):
    for obj in _workloads(k8s_objects):
        container = _container(obj)
        name = obj["metadata"]["name"]
        assert container["resources"]["requests"]["memory"], name
        assert container["resources"]["limits"]["memory"], name
        assert _pod(obj)["securityContext"]["runAsNonRoot"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_identity_reads_its_signing_keys_from_a_secret(k8s_objects):
    for role in ("web", "worker"):
        pod = _pod(_find(k8s_objects, "Deployment", f"identity-{role}"))
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["signing-keys"]["secret"]["secretName"] == "identity-signing-keys"
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["signing-keys"]["mountPath"] == "/var/lib/identity/keys"
        assert mounts["signing-keys"]["readOnly"] is True


def test_outcomes_reaches_diary_and_reminders_through_their_services(k8s_objects):
    config = _find(k8s_objects, "ConfigMap", "outcomes-config")["data"]
    for setting, callee in (("DIARY_URL", "diary"), ("REMINDERS_URL", "reminders")):
        url = urlparse(config[setting])
        service = _find(k8s_objects, "Service", callee)
        assert (url.scheme, url.hostname) == ("http", callee)
        assert url.port in {port["port"] for port in service["spec"]["ports"]}
    for role in ("web", "worker", "beat"):
        sources = _container(_find(k8s_objects, "Deployment", f"outcomes-{role}"))["envFrom"]
        assert {"configMapRef": {"name": "outcomes-config"}} in sources


def test_outcomes_worker_takes_its_service_client_from_a_secret_by_reference(k8s_objects):
    for _, obj in k8s_objects:
        if obj["kind"] == "ConfigMap":
            assert not {"SERVICE_CLIENT_ID", "SERVICE_CLIENT_SECRET"} & set(obj.get("data", {}))
    worker = _container(_find(k8s_objects, "Deployment", "outcomes-worker"))
    env = {item["name"]: item for item in worker["env"]}
    for name in ("SERVICE_CLIENT_ID", "SERVICE_CLIENT_SECRET"):
        reference = env[name]["valueFrom"]["secretKeyRef"]
        # Optional: the pods start before identity has created the client.
        assert reference == {"name": "outcomes-service-client", "key": name, "optional": True}
    for obj in _workloads(k8s_objects):
        if obj["metadata"]["name"] == "outcomes-worker":
            continue
        names = {item["name"] for item in _container(obj).get("env", [])}
        assert not {"SERVICE_CLIENT_ID", "SERVICE_CLIENT_SECRET"} & names, obj["metadata"]["name"]
