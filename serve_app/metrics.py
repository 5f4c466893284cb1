"""Prometheus metrics of the HTTP gateway, plus Ray's own node metrics (the actors' and deployments'
`ray.util.metrics` among them) for one scrape target: `/metrics` as Prometheus text, `/metrics.json`
the same families as JSON (`families`: prometheus_client's own text parser, so both say the same;
a value that JSON cannot carry, NaN or an infinity, becomes the string Prometheus writes)."""
from __future__ import annotations

import math

import aiohttp
import ray
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter("ustadh_http_requests_total", "HTTP requests served",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("ustadh_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
COMPONENT_UP = Gauge("ustadh_component_up", "1 when the component answered its last health probe",
                     ["component"], registry=REGISTRY)
PROBE_LATENCY = Gauge("ustadh_component_probe_seconds", "Latency of the last health probe",
                      ["component"], registry=REGISTRY)


async def ray_node_metrics(timeout: float = 1.0) -> str:
    """Ray's metrics (actors, Serve, object store) from this node's metrics agent; '' if unreachable."""
    node = next((n for n in ray.nodes() if n.get("Alive")), None)
    if not node or not node.get("MetricsExportPort"):
        return ""
    url = f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.get(url) as response:
                return await response.text() if response.status == 200 else ""
    except (aiohttp.ClientError, TimeoutError):
        return ""


def gateway_metrics() -> bytes:
    return generate_latest(REGISTRY)


class SampleOut(BaseModel):
    name: str
    labels: dict[str, str]
    value: float | str


class FamilyOut(BaseModel):
    name: str
    type: str
    help: str
    samples: list[SampleOut]


class MetricsOut(BaseModel):
    families: list[FamilyOut]


def _value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def families(text: str) -> MetricsOut:
    """Prometheus exposition text as JSON families, in the order the text has them."""
    return MetricsOut(families=[
        FamilyOut(name=f.name, type=f.type, help=f.documentation,
                  samples=[SampleOut(name=s.name, labels=dict(s.labels), value=_value(s.value)) for s in f.samples])
        for f in text_string_to_metric_families(text)])
