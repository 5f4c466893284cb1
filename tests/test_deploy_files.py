"""The deployment files stay valid: Serve's config schema, the cluster YAML, the README table."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from actors.clients import retrieval as retrieval_client
from core.config import Settings, SettingsError, load_settings
from serve_app import retrieval_api
from serve_app.gateway import Gateway, build_app
from serve_app.retrieval_api import Retriever
from serve_app.tutor import Tutor
from tests.conftest import RaySystem

ROOT = Path(__file__).resolve().parents[1]


def test_serve_config_matches_serves_schema_and_our_applications() -> None:
    config = ServeDeploySchema.model_validate(yaml.safe_load((ROOT / "serve_app/serve_config.yaml").read_text()))
    retrieval, gateway = config.applications
    assert (retrieval.name, retrieval.route_prefix, retrieval.import_path) == (
        retrieval_client.APP, retrieval_api.ROUTE_PREFIX, "serve_app.retrieval_api:build_app")
    assert [d.name for d in retrieval.deployments] == [Retriever.name]
    assert (gateway.route_prefix, gateway.import_path) == ("/", "serve_app.gateway:build_app")
    assert [d.name for d in gateway.deployments] == [Gateway.name, Tutor.name]
    for app, build in ((retrieval, retrieval_api.build_app), (gateway, build_app)):
        assert build({k: str(v) for k, v in app.args.items()}) is not None


def test_serve_config_autoscales_the_retriever_and_the_tutor() -> None:
    config = ServeDeploySchema.model_validate(yaml.safe_load((ROOT / "serve_app/serve_config.yaml").read_text()))
    scaled = {d.name: d.autoscaling_config for app in config.applications for d in app.deployments}
    for name in (Retriever.name, Tutor.name):
        assert scaled[name]["min_replicas"] < scaled[name]["max_replicas"], scaled


def test_the_running_system_deploys_them_with_the_settings_autoscaling(ray_system: RaySystem) -> None:
    from ray.serve.context import _get_global_client

    details = _get_global_client().get_serve_details()["applications"]
    deployed = {name: d["deployment_config"].get("autoscaling_config") or {}
                for app in details.values() for name, d in app["deployments"].items()}
    settings = ray_system.settings
    for name, key in ((Retriever.name, "RETRIEVER"), (Tutor.name, "TUTOR")):
        wanted = settings.autoscaling(key)  # type: ignore[arg-type]
        assert {k: deployed[name].get(k) for k in wanted} == wanted, deployed[name]


def test_autoscaling_bounds_must_be_ordered() -> None:
    with pytest.raises(SettingsError, match="RETRIEVER_REPLICAS_MIN"):
        load_settings(_env_file=None, RETRIEVER_REPLICAS_MIN=3, RETRIEVER_REPLICAS_MAX=2)


def test_cluster_config_passes_the_cluster_launchers_own_checks() -> None:
    """What `ray up` does with the file before anything starts: fill in defaults, then check it
    against the launcher's JSON schema (ray/autoscaler/ray-schema.json)."""
    from jsonschema.exceptions import ValidationError
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(config)))
    with pytest.raises(ValidationError, match="max_workerz"):
        validate_config(prepare_config({**copy.deepcopy(config), "max_workerz": 1}))


def test_cluster_config_names_head_and_workers() -> None:
    config = yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())
    assert config["provider"]["type"] == "local" and config["provider"]["worker_ips"]
    assert any("ustadh up" in command for command in config["head_start_ray_commands"])


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([A-Z_]+)` \| ([^|]*) \|", readme, re.M)}
    missing = [name for name in Settings.model_fields if name not in rows]
    assert not missing, f"README configuration table lacks {missing}"
