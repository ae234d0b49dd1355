"""Helpers shared by the test modules: a local HTTP server thread, and where the read-only
shared data lie for tests: beside the checkout (``../shared``), as
on the developers' machines and in CI, or where ``COURSEKIT_TEST_ISL_DIR`` points. Tests that
need them skip when they are absent."""

import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path


def _find_isl_sample() -> Path:
    env = os.environ.get("COURSEKIT_TEST_ISL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "isl_condition_blue"


#: The real in silico labeling sample (Christiansen et al. 2018), 16 PNG files.
ISL_DIR = _find_isl_sample()


class ServerThread:
    """An HTTP server on 127.0.0.1 (a free port) with ``handler``, in a daemon thread.

    The one server of the test suite: conftest's ``LocalServer`` serves a folder with it, the
    fault tests (tests/test_faults_datasets.py) a scripted misbehaving handler.
    """

    def __init__(self, handler):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
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
