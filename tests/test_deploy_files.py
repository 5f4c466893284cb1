"""The deployment files stay valid: Serve's config schema, the cluster YAML, the README table."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from actors.clients import retrieval as retrieval_client
from core.config import Settings
from serve_app import retrieval_api
from serve_app.gateway import Gateway, build_app
from serve_app.retrieval_api import Retriever
from serve_app.tutor import Tutor

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


def test_cluster_config_names_head_and_workers() -> None:
    config = yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())
    assert config["provider"]["type"] == "local" and config["provider"]["worker_ips"]
    assert any("ustadh up" in command for command in config["head_start_ray_commands"])


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([A-Z_]+)` \| ([^|]*) \|", readme, re.M)}
    missing = [name for name in Settings.model_fields if name not in rows]
    assert not missing, f"README configuration table lacks {missing}"
