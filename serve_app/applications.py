"""The Serve applications that make up Ustadh's HTTP side, and how they are started on one machine.

Two applications on one proxy: the retrieval application at /retrieve (`serve_app.retrieval_api`)
and the gateway at / for every other route (`serve_app.gateway`); the proxy sends a request to
the longest matching prefix. `serve_app/serve_config.yaml` lists the same two for `serve deploy`.
"""
from __future__ import annotations

from ray import serve

from actors.clients import retrieval as retrieval_client
from core.config import Settings
from serve_app import gateway, retrieval_api

# Serve's own access log line per request repeats what RequestContext logs (with the request id):
# off, for `serve.start` and `serve.run` alike.
SERVE_LOGGING = {"enable_access_log": False}


def start(settings: Settings, host: str) -> None:
    """Serve's proxy on `host`:HTTP_PORT, then both applications (retrieval first: the gateway's Tutor
    looks the Retriever up by name)."""
    serve.start(proxy_location=settings.SERVE_PROXY_LOCATION, http_options={"host": host, "port": settings.HTTP_PORT},
                logging_config=SERVE_LOGGING)
    serve.run(retrieval_api.application(settings), name=retrieval_client.APP, route_prefix=retrieval_api.ROUTE_PREFIX,
              logging_config=SERVE_LOGGING)
    serve.run(gateway.application(settings), name="ustadh", route_prefix="/", logging_config=SERVE_LOGGING)
