"""What every client of an actor or a Serve deployment does, in one place: find the handle once (by
name, in a worker thread: Ray's lookups block), carry the request id, and map failures.

A domain error the callee raised (one of the client's `passes`, e.g. `SourceError`, `QueryError`)
comes back as itself, not wrapped by Ray. Anything else — no actor or deployment by that name
(yet), a dead or restarting one, an unexpected error inside it — is the client's `unavailable`
error (a `core.app.ports.Unavailable`), and the handle is looked up again on the next call.
"""
from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from ray.exceptions import RayActorError, RayTaskError

from actors import registry
from actors.tracing import call
from core.app.ports import Unavailable

FAILURES = (RayTaskError, RayActorError, ValueError, RuntimeError)  # ValueError: no actor by that name (yet)


async def actor(name: str) -> Any:
    """The handle of the system actor `name` (ValueError while there is none)."""
    return await asyncio.to_thread(registry.get, name)


class Client:
    unavailable: ClassVar[type[Unavailable]] = Unavailable
    passes: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, handle: Any = None) -> None:
        self._handle = handle

    async def _lookup(self) -> Any:
        raise NotImplementedError

    def _invoke(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        return method.remote(*args, **kwargs)

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._invoke(getattr(await self._handle_now(), method), *args, **kwargs)
        except FAILURES as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> Exception:
        """What a failed call raises: the callee's domain error as itself, anything else `unavailable`."""
        if isinstance(exc, RayTaskError):  # first: Ray's error also subclasses the cause's type
            cause = exc.cause
            return type(cause)(*cause.args) if isinstance(cause, self.passes) else self._unavailable(cause)
        return exc if isinstance(exc, self.passes) else self._unavailable(exc)

    async def _handle_now(self) -> Any:
        if self._handle is None:
            self._handle = await self._lookup()
        return self._handle

    def _unavailable(self, cause: BaseException) -> Unavailable:
        self._handle = None
        return self.unavailable(f"{type(cause).__name__}: {cause}"[:300])


class ActorClient(Client):
    """A client of one named system actor, whose `@traced` methods take the request id."""

    actor_name: ClassVar[str]

    async def _lookup(self) -> Any:
        return await actor(self.actor_name)

    def _invoke(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        return call(method, *args, **kwargs)


class DeploymentClient(Client):
    """A client of a Serve deployment, found by name (its methods take the request id as an argument)."""

    app: ClassVar[str]
    deployment: ClassVar[str]

    async def _lookup(self) -> Any:
        return await asyncio.to_thread(deployment_handle, self.deployment, self.app)


def deployment_handle(deployment: str, app: str) -> Any:
    from ray import serve

    return serve.get_deployment_handle(deployment, app_name=app)
