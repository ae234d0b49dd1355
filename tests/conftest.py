"""Shared fixtures: a real HTTP server on 127.0.0.1, in the test process.

``http_server`` serves ``tmp_path / "www"`` (write files there); ``serve_directory(path)``
serves any folder (read-only is fine). Both give a :class:`LocalServer` with ``url``,
``root``, the list of paths requested (``requests``) and ``stop()`` (afterwards the port
refuses connections, as a server that is down).
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest


class _QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args, requests: list, **kwargs):
        self._requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - the http.server API
        self._requests.append(unquote(self.path))
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass


class LocalServer:
    """An HTTP server for one folder, running in a daemon thread."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[str] = []
        handler = functools.partial(_QuietHandler, directory=str(self.root), requests=self.requests)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        """Stop serving and close the port (later connections are refused)."""
        if self.running:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self.running = False


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
