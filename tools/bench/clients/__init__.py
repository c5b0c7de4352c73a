"""The clients under test, one adapter module per library.

The registry below is all the parent process knows about them: it never imports
a client library itself. Each client runs in a worker process of its own
(:mod:`tools.bench.worker`), which imports only that client's adapter.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass

from tools.bench.clients.base import AsyncClient, SyncClient

__all__ = ["BASELINE", "CLIENTS", "ClientSpec", "by_name", "load", "version"]


@dataclass(frozen=True)
class ClientSpec:
    """A client: its command-line name, its column label, where its adapter is."""

    name: str
    label: str
    adapter: str  # "module:Class" under tools.bench.clients
    distribution: str  # whose version the report shows
    deflate: bool = True
    # A raw client returns text echoes as the bytes on the wire, undecoded.
    raw: bool = False


CLIENTS = (
    ClientSpec("wskit-asyncio", "wskit.asyncio", "wskit_clients:WskitAsyncio", "wskit"),
    ClientSpec(
        "wskit-threading", "wskit.threading", "wskit_clients:WskitThreading", "wskit"
    ),
    ClientSpec("wskit-legacy", "wskit.legacy", "wskit_clients:WskitLegacy", "wskit"),
    ClientSpec(
        "websockets-asyncio",
        "websockets asyncio",
        "websockets_clients:WebsocketsAsyncio",
        "websockets",
    ),
    ClientSpec(
        "websockets-sync",
        "websockets sync",
        "websockets_clients:WebsocketsSync",
        "websockets",
    ),
    ClientSpec("aiohttp", "aiohttp", "aiohttp_client:Aiohttp", "aiohttp"),
    ClientSpec(
        "websocket-client",
        "websocket-client",
        "websocket_client:WebsocketClient",
        "websocket-client",
        deflate=False,
    ),
    ClientSpec("picows", "picows", "picows_client:Picows", "picows", deflate=False),
    ClientSpec(
        "raw-asyncio",
        "raw asyncio socket",
        "raw:RawAsyncio",
        "python",
        deflate=False,
        raw=True,
    ),
    ClientSpec(
        "raw-socket",
        "raw blocking socket",
        "raw:RawSocket",
        "python",
        deflate=False,
        raw=True,
    ),
)
# Ratios in the report are relative to this client.
BASELINE = "websockets-asyncio"
_BY_NAME = {spec.name: spec for spec in CLIENTS}


def by_name(name: str) -> ClientSpec:
    """The client with this command-line name.

    Raises:
        KeyError: No such client; the message lists the valid names.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"unknown client {name!r}; valid names: {', '.join(_BY_NAME)}"
        ) from None


def load(spec: ClientSpec) -> AsyncClient | SyncClient:
    """Import the client's adapter (and so its library) and instantiate it."""
    module_name, class_name = spec.adapter.split(":")
    module = importlib.import_module(f"tools.bench.clients.{module_name}")
    client = getattr(module, class_name)()
    assert isinstance(client, (AsyncClient, SyncClient))
    return client


def version(distribution: str) -> str:
    """The installed version of a distribution, or why there is none."""
    if distribution == "python":
        import platform

        return platform.python_version()
    if distribution == "wskit":
        try:
            from wskit.core.version import __version__
        except ImportError:
            return "not installed"
        return __version__
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
