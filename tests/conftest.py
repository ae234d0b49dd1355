"""Shared fixtures: a real HTTP server on 127.0.0.1, in the test process.

``http_server`` serves ``tmp_path / "www"`` (write files there); ``serve_directory(path)``
serves any folder (read-only is fine). Both give a :class:`LocalServer` with ``url``,
``root``, the list of paths requested (``requests``) and ``stop()`` (afterwards the port
refuses connections, as a server that is down).
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote

import pytest
from _shared import ServerThread


class _QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, requests: list, **kwargs):
        self._requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - the http.server API
        self._requests.append(unquote(self.path))
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass


class LocalServer(ServerThread):
    """An HTTP server for one folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[str] = []
        super().__init__(
            functools.partial(_QuietHandler, directory=str(self.root), requests=self.requests)
        )


@pytest.fixture
def serve_directory():
    """Factory: ``serve_directory(folder) -> LocalServer``; all are stopped afterwards."""
    servers: list[LocalServer] = []

    def start(root) -> LocalServer:
        server = LocalServer(root)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def http_server(tmp_path, serve_directory) -> LocalServer:
    """A running server for ``tmp_path / "www"`` (created empty)."""
    root = tmp_path / "www"
    root.mkdir()
    return serve_directory(root)
