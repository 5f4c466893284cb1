"""URL fetching for ingestion against a real aiohttp server on loopback (exempted from the SSRF
guard by name, as SCRAPE_ALLOW does): bodies, headers, redirects, size and time limits, and the
reason/retryable classification of every failure."""
from __future__ import annotations

import asyncio
import contextlib
import pickle
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.ingest.extract import extract
from core.ingest.fetch import Fetched, download
from core.web.fetch import REASONS, FetchError, GuardedFetcher

ARABIC = "تُعَدُّ القراءة مفتاح المعرفة، والكتابة أداتها."
FRENCH = "L'élève a révisé ses leçons « à fond » avant l'examen."
PAGE = (f"<!DOCTYPE html><html><head><title>درس</title></head>"
        f"<body><p>{ARABIC}</p><p>{FRENCH}</p></body></html>").encode()
LIMIT = 256 * 1024
USER_AGENTS: list[str] = []


async def page(request: web.Request) -> web.Response:
    USER_AGENTS.append(request.headers.get("User-Agent", ""))
    return web.Response(body=PAGE, content_type="text/html", charset="utf-8",
                        headers={"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"})


async def redirect(request: web.Request) -> web.Response:
    hops = int(request.match_info["hops"])
    raise web.HTTPFound(f"/redirect/{hops - 1}" if hops else "/page.html")


async def status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="nope")


async def attachment(request: web.Request) -> web.Response:
    disposition = request.query.get("cd", 'attachment; filename="cours.txt"')
    return web.Response(body=FRENCH.encode(), headers={"Content-Disposition": disposition,
                                                       "Content-Type": "text/plain; charset=utf-8"})


async def bare(request: web.Request) -> web.Response:
    return web.Response(body=b"")  # aiohttp sends no Content-Type for an empty body


async def declared_large(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * (LIMIT + 1), content_type="text/plain")


async def chunked_large(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for _ in range(64):  # 4 MiB in total, far beyond LIMIT
            await response.write(b"y" * 65536)
            await asyncio.sleep(0)
        await response.write_eof()
    return response


async def redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["url"])


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late")


@pytest_asyncio.fixture(scope="module")
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/page.html", page)
    app.router.add_get("/redirect/{hops}", redirect)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/download/{name}", attachment)
    app.router.add_get("/bare/", bare)
    app.router.add_get("/declared-large", declared_large)
    app.router.add_get("/chunked-large", chunked_large)
    app.router.add_get("/slow", slow)
    app.router.add_get("/to", redirect_to)
    test_server = TestServer(app, host="127.0.0.1", port=None)
    await test_server.start_server()
    yield test_server
    await test_server.close()


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def fetch_url(target: str, *, max_bytes: int = LIMIT, timeout_s: float = 30.0,
                    user_agent: str = "UstadhTest/0", allow: tuple[str, ...] = ("127.0.0.1",)) -> Fetched:
    async with GuardedFetcher(allow=allow, user_agent=user_agent, timeout_s=timeout_s, max_redirects=5) as fetcher:
        return await download(fetcher, target, max_bytes=max_bytes)


async def fetch_failure(target: str, *, timeout_s: float = 30.0) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetch_url(target, timeout_s=timeout_s)
    assert caught.value.reason in REASONS
    return caught.value


async def test_html_page_with_charset_and_cache_headers(server: TestServer) -> None:
    fetched = await fetch_url(url(server, "/page.html"), max_bytes=LIMIT, user_agent="UstadhTest/1")
    assert fetched == Fetched(data=PAGE, media_type="text/html", filename="page.html",
                              final_url=url(server, "/page.html"), etag='"v1"',
                              last_modified="Wed, 21 Oct 2026 07:28:00 GMT")
    assert USER_AGENTS[-1] == "UstadhTest/1"
    extracted = extract(fetched.data, filename=fetched.filename, media_type=fetched.media_type)
    assert extracted.title == "درس"
    assert extracted.text == f"{ARABIC}\n\n{FRENCH}"


async def test_redirect_chain_of_five_is_followed(server: TestServer) -> None:
    fetched = await fetch_url(url(server, "/redirect/4"), max_bytes=LIMIT)
    assert fetched.final_url == url(server, "/page.html")
    assert fetched.data == PAGE


async def test_too_many_redirects(server: TestServer) -> None:
    error = await fetch_failure(url(server, "/redirect/5"))
    assert (error.reason, error.retryable) == ("redirects", False)
    assert "more than 5" in error.message


@pytest.mark.parametrize(("code", "retryable"), [(404, False), (403, False), (410, False), (429, True),
                                                 (500, True), (503, True)])
async def test_http_errors(server: TestServer, code: int, retryable: bool) -> None:
    error = await fetch_failure(url(server, f"/status/{code}"))
    assert (error.reason, error.retryable) == ("http_status", retryable)
    assert str(code) in error.message


@pytest.mark.parametrize(("disposition", "filename"), [
    ('attachment; filename="cours.txt"', "cours.txt"),
    ("attachment; filename*=UTF-8''%D8%AF%D8%B1%D8%B3.txt", "درس.txt"),
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ("inline", "lecon-1"),
])
async def test_filename_from_content_disposition_else_path(server: TestServer, disposition: str,
                                                           filename: str) -> None:
    target = str(server.make_url("/download/lecon-1").with_query(cd=disposition))
    fetched = await fetch_url(target, max_bytes=LIMIT)
    assert (fetched.filename, fetched.media_type, fetched.data) == (filename, "text/plain", FRENCH.encode())


async def test_missing_type_and_empty_path_segment(server: TestServer) -> None:
    fetched = await fetch_url(url(server, "/bare/"), max_bytes=LIMIT)
    assert (fetched.data, fetched.media_type, fetched.filename, fetched.etag, fetched.last_modified) == (
        b"", None, None, None, None)


async def test_declared_content_length_over_limit(server: TestServer) -> None:
    error = await fetch_failure(url(server, "/declared-large"))
    assert (error.reason, error.retryable) == ("too_large", False)
    assert "Content-Length" in error.message


async def test_chunked_body_over_limit_stops_streaming(server: TestServer) -> None:
    error = await fetch_failure(url(server, "/chunked-large"))
    assert (error.reason, error.retryable) == ("too_large", False)
    assert "0.25 MB" in error.message


async def test_exact_limit_is_allowed(server: TestServer) -> None:
    fetched = await fetch_url(url(server, "/page.html"), max_bytes=len(PAGE))
    assert fetched.data == PAGE


async def test_slow_server_times_out(server: TestServer) -> None:
    error = await fetch_failure(url(server, "/slow"), timeout_s=0.3)
    assert (error.reason, error.retryable) == ("timeout", True)


async def test_connection_refused_is_retryable_network_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await fetch_failure(f"http://127.0.0.1:{port}/")
    assert (error.reason, error.retryable) == ("network", True)


@pytest.mark.parametrize("target", ["ftp://example.com/file.txt", "not a url", "", "http://", "https:///path",
                                    "file:///etc/passwd", "http://[::1/"])
async def test_invalid_urls(target: str) -> None:
    error = await fetch_failure(target)
    assert (error.reason, error.retryable) == ("url_invalid", False)


@pytest.mark.parametrize("retryable", [True, False])
def test_fetch_error_pickles(retryable: bool) -> None:
    copy = pickle.loads(pickle.dumps(FetchError("network", "Could not connect.", retryable=retryable)))
    assert (type(copy), copy.reason, copy.message, copy.retryable, str(copy)) == (
        FetchError, "network", "Could not connect.", retryable, "Could not connect.")


def test_unknown_reason_is_a_bug() -> None:
    with pytest.raises(ValueError):
        FetchError("nope", "message")


@pytest_asyncio.fixture
async def private_site() -> AsyncIterator[tuple[str, list[str]]]:
    """A site on loopback that no fetch may reach: its origin and the paths it was asked for."""
    asked: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(text="internal page: secret")

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    site = TestServer(app, host="127.0.0.1", port=None)
    await site.start_server()
    yield f"http://127.0.0.1:{site.port}", asked
    await site.close()


@pytest.mark.parametrize("path", ["/", "/healthz", "/metrics"])
async def test_a_loopback_url_is_blocked_before_any_request(private_site: tuple[str, list[str]], path: str) -> None:
    origin, asked = private_site
    with pytest.raises(FetchError) as caught:
        await fetch_url(origin + path, allow=())
    assert (caught.value.reason, caught.value.retryable) == ("blocked", False)
    assert asked == []


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                                    "http://192.168.1.1/admin", "http://[::1]/", "http://0.0.0.0/",
                                    "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/"])
async def test_private_link_local_and_metadata_addresses_are_blocked(target: str) -> None:
    error = await fetch_failure(target)  # even with 127.0.0.1 exempt, as the tests' fetcher has it
    assert (error.reason, error.retryable) == ("blocked", False), error.message


async def test_a_redirect_to_a_private_address_is_blocked_at_that_hop(
        server: TestServer, private_site: tuple[str, list[str]]) -> None:
    origin, asked = private_site
    public = f"127.0.0.1:{server.port}"  # the one origin exempted, standing in for a public site
    for target in (f"{origin}/healthz", origin.replace("127.0.0.1", "localhost") + "/metrics",
                   "http://169.254.169.254/latest/meta-data/"):
        redirecting = str(server.make_url("/to").with_query(url=target))
        with pytest.raises(FetchError) as caught:
            await fetch_url(redirecting, allow=(public,))
        assert caught.value.reason == "blocked", caught.value.message
    assert asked == []
    fetched = await fetch_url(str(server.make_url("/to").with_query(url=url(server, "/page.html"))), allow=(public,))
    assert fetched.data == PAGE  # a redirect within the allowed origin is still followed
