"""The lab in a real browser: JupyterLab driven by headless Chromium (Playwright for Python,
Debian's ``chromium`` through ``executable_path``; no ``playwright install``).

One JupyterLab server (this environment, 127.0.0.1, a free port, a token) serves the
repository for the whole module; for each lecture notebook the test opens it and checks:

- it opens with the kernel the README names ("Python (coursekit)", kernel name
  ``coursekit``; checked in the toolbar and through the server's sessions API), without a
  kernel-selection dialog and without being marked modified;
- **run fully** (Run > Run All Cells) for the notebooks chosen by
  ``COURSEKIT_BROWSER_NOTEBOOKS`` (below): no cell writes to stderr or raises, the
  ``coursekit.viewer`` widgets render (a slider and a channel menu, not "Loading widget..."
  nor the plain-text ``VBox(...)`` fallback), moving the z slider with the keyboard and
  choosing another channel each change the image the viewer displays (its PNG data);
- **opened only**, for the others: the stored outputs render (as many images on the page as
  PNG outputs in the file) and none is an error.

Time cap (the lectures train models; CI allows the browser test about 10 minutes on 2
cores): ``COURSEKIT_BROWSER_NOTEBOOKS`` is a comma-separated list of glob patterns of lecture
file names to run fully, or ``all``; default ``01_*,02_*`` (the viewer lectures, about a
minute each on an idle machine). Every other lecture is opened and checked without running.
``COURSEKIT_BROWSER_TIMEOUT`` caps one notebook's run (default 900 s).

Screenshots of every notebook, of the viewer in each state and of the course website (index
and lecture 1, built from the stored outputs) go to ``COURSEKIT_SCREENSHOTS`` (default
``build/browser-screenshots/``), printed at the start. The server is stopped through its
process (process group: its kernels too) in every outcome; autosave is off in the test's own
JupyterLab settings, and every file under ``lectures/`` is restored byte for byte afterwards
(files JupyterLab created there are removed).

Skipped with the reason when Playwright or Chromium is missing (``apt-get install -y
chromium``; ``pip install -e '.[browser]'``); ``COURSEKIT_CHROMIUM`` names another binary.
Run by ``make test-browser`` and ``.ci/run``.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
KERNEL_NAME, KERNEL_DISPLAY = "coursekit", "Python (coursekit)"
# inline figures come as PNG or, for photographs (lecture 1), as JPEG
IMAGE_TYPES = ("image/png", "image/jpeg")
IMAGE_URIS = ("data:image/png;base64,", "data:image/jpeg;base64,")
SHOTS = Path(os.environ.get("COURSEKIT_SCREENSHOTS", ROOT / "build" / "browser-screenshots"))
RUN_PATTERNS = os.environ.get("COURSEKIT_BROWSER_NOTEBOOKS", "01_*,02_*")
RUN_TIMEOUT = float(os.environ.get("COURSEKIT_BROWSER_TIMEOUT", "900"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWER_CALLS = ("stack_viewer(",)
STDERR = "application/vnd.jupyter.stderr"
# The notebook on screen (a page may hold other, hidden panels).
PANEL = ".jp-NotebookPanel:visible"


def _find_chromium() -> str | None:
    env = os.environ.get("COURSEKIT_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _find_chromium()
pytestmark = [
    pytest.mark.classroom,
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="Playwright for Python is not installed: pip install -e '.[browser]'",
    ),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium found (chromium, chromium-browser, google-chrome or "
        "$COURSEKIT_CHROMIUM): on Debian/Ubuntu `apt-get install -y chromium`",
    ),
]


def _runs_fully(path: Path) -> bool:
    patterns = [p.strip() for p in RUN_PATTERNS.split(",") if p.strip()]
    return "all" in patterns or any(fnmatch.fnmatch(path.name, p) for p in patterns)


def _say(request, message: str) -> None:
    """Print past pytest's output capture, so the screenshot folder is always shown."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(message, flush=True)


# --- the JupyterLab server --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _restore(folder: Path, before: dict[Path, bytes]) -> list[str]:
    """Put every file back as it was; remove files and folders created since. Returns what
    had changed (for the report)."""
    changed = []
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and path not in before:
            changed.append(f"created {path.relative_to(ROOT)}")
            path.unlink()
        elif path.is_dir() and not any(p.is_relative_to(path) for p in before):
            shutil.rmtree(path, ignore_errors=True)
    for path, data in before.items():
        if not path.is_file() or path.read_bytes() != data:
            changed.append(f"modified {path.relative_to(ROOT)}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return changed


def _lab_settings(settings: Path) -> None:
    """The test's own JupyterLab user settings: no autosave (the repository's notebooks stay
    as they are), every cell in the DOM (no windowing), no news or update checks."""
    values = {
        "docmanager-extension/plugin": {"autosave": False},
        "notebook-extension/tracker": {"windowingMode": "none"},
        "apputils-extension/notification": {"checkForUpdates": False, "fetchNews": "false"},
    }
    for name, value in values.items():
        ext, plugin = name.split("/")
        path = settings / "@jupyterlab" / ext / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


def _api(base: str, token: str, path: str):
    with urllib.request.urlopen(f"{base}/api/{path}?token={token}", timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    _lab_settings(tmp / "settings")
    port, token = _free_port(), "coursekit-browser-test"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={ROOT}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=",
    ] + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    env.pop("MPLBACKEND", None)  # inline figures in the kernel, as a student sees them
    before = _snapshot(ROOT / "lectures")
    log = open(tmp / "jupyterlab.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                            start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _api(base, token, "status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"JupyterLab did not start (log: {tmp / 'jupyterlab.log'}):\n"
                        + (tmp / "jupyterlab.log").read_text(errors="replace")[-3000:]
                    ) from None
                time.sleep(0.5)
        specs = _api(base, token, "kernelspecs")["kernelspecs"]
        assert KERNEL_NAME in specs, (
            f"the kernel {KERNEL_NAME!r} is not registered (have {sorted(specs)}): run "
            f"`make setup`, or python -m ipykernel install --sys-prefix --name {KERNEL_NAME} "
            f'--display-name "{KERNEL_DISPLAY}"'
        )
        _say(request, f"[browser] JupyterLab at {base} (pid {proc.pid}); screenshots: {SHOTS}")
        yield base, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        changed = _restore(ROOT / "lectures", before)
        if changed:
            _say(request, f"[browser] restored lectures/ after JupyterLab: {changed}")
        assert _snapshot(ROOT / "lectures") == before, "lectures/ could not be restored"


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):  # this run's screenshots only
        old.unlink()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        # Generous: a CI machine shared with other jobs can take minutes to load JupyterLab.
        context.set_default_timeout(120_000)
        context.set_default_navigation_timeout(300_000)
        try:
            yield context
        finally:
            context.close()


# --- helpers in the page ----------------------------------------------------------------------


def _session(base, token, rel: str) -> dict | None:
    for s in _api(base, token, "sessions"):
        if s.get("path") == rel and s.get("kernel"):
            return s
    return None


def _wait_idle(page, base, token, rel: str, timeout: float, what: str) -> dict:
    """Wait until the notebook's kernel is idle and no cell is running or queued ([*])."""
    deadline = time.monotonic() + timeout
    calm = 0
    while True:
        session = _session(base, token, rel)
        busy = page.locator(f"{PANEL} .jp-InputPrompt", has_text="[*]").count()
        state = session and _api(base, token, f"kernels/{session['kernel']['id']}")
        idle = bool(state) and state["execution_state"] == "idle" and busy == 0
        calm = calm + 1 if idle else 0
        if calm >= 3:
            return session
        if time.monotonic() > deadline:
            page.screenshot(path=str(SHOTS / f"{Path(rel).stem}-timeout.png"))
            raise AssertionError(
                f"{rel}: {what} not finished after {timeout:.0f} s "
                f"(kernel {state and state['execution_state']}, {busy} cells running or queued)"
            )
        page.wait_for_timeout(1000)


def _check_dialog(page, rel: str) -> None:
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        text = dialog.first.inner_text()
        page.screenshot(path=str(SHOTS / f"{Path(rel).stem}-dialog.png"))
        raise AssertionError(f"{rel}: JupyterLab shows a dialog on opening: {text[:500]!r}")


def _open(page, base, token, rel: str) -> dict:
    # reset: a fresh workspace, so the notebooks of earlier tests do not reopen beside it.
    page.goto(f"{base}/lab/tree/{rel}?reset&token={token}", wait_until="domcontentloaded")
    page.locator(f"{PANEL} .jp-Cell").first.wait_for(timeout=300_000)
    page.wait_for_timeout(2000)
    _check_dialog(page, rel)
    session = _wait_idle(page, base, token, rel, 300, "kernel start")
    assert session["kernel"]["name"] == KERNEL_NAME, (
        f"{rel}: runs on kernel {session['kernel']['name']!r}, the README names "
        f"{KERNEL_NAME!r} ({KERNEL_DISPLAY})"
    )
    toolbar = page.locator(f"{PANEL} .jp-NotebookPanel-toolbar .jp-Toolbar-kernelName").first
    assert toolbar.inner_text().strip() == KERNEL_DISPLAY, (
        f"{rel}: the toolbar shows kernel {toolbar.inner_text()!r}, expected {KERNEL_DISPLAY!r}"
    )
    dirty = page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count()
    stored = nbformat.read(ROOT / rel, as_version=4).metadata.get("language_info", {})
    if stored.get("version") == platform.python_version():
        assert dirty == 0, (
            f"{rel}: opens marked modified: its kernelspec or language_info differ from what "
            "the kernel reports (run scripts/add_colab_cells.py)"
        )
    # else: the notebook was stored by another Python version, which JupyterLab records on
    # opening (a modification this machine cannot avoid): not checked here.
    return session


def _run_all(page) -> None:
    page.locator('.lm-MenuBar-itemLabel:text-is("Run")').first.click()
    page.locator('.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').first.click()


def _stderr_outputs(page) -> list[str]:
    outs = page.locator(f'{PANEL} .jp-OutputArea-output[data-mime-type="{STDERR}"]')
    return [outs.nth(i).inner_text()[:800] for i in range(outs.count())]


def _shot_cells(page, stem: str, suffix: str) -> list[Path]:
    """Screenshots down the whole notebook (JupyterLab scrolls inside its panel)."""
    shots = []
    scroller = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
    height = page.evaluate(f"document.querySelector('{scroller}')?.scrollHeight || 0")
    view = page.evaluate(f"document.querySelector('{scroller}')?.clientHeight || 1000")
    for k, top in enumerate(range(0, max(int(height), 1), max(int(view) - 50, 200))):
        if k >= 40:
            break
        page.evaluate(f"document.querySelector('{scroller}')?.scrollTo(0, {top})")
        page.wait_for_timeout(150)
        path = SHOTS / f"{stem}-{suffix}-{k:02d}.png"
        page.screenshot(path=str(path))
        shots.append(path)
    return shots


def _viewer_image(viewer) -> str:
    img = viewer.locator(".widget-output img").first
    img.wait_for(timeout=120_000)
    return img.get_attribute("src") or ""


def _wait_new_image(viewer, old: str, what: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        imgs = viewer.locator(".widget-output img")
        if imgs.count():
            src = imgs.first.get_attribute("src") or ""
            painted = imgs.first.evaluate("i => i.complete && i.naturalWidth > 0")
            if src and src != old and painted:
                viewer.page.wait_for_timeout(1000)  # let the output area settle
                return imgs.first.get_attribute("src") or ""
        viewer.page.wait_for_timeout(500)
    raise AssertionError(f"the viewer's image did not change after {what} ({timeout:.0f} s)")


def _check_viewers(page, stem: str, n_viewer_cells: int) -> int:
    text = page.locator(PANEL).inner_text()
    assert "Loading widget..." not in text, f"{stem}: a widget is stuck on 'Loading widget...'"
    plain = page.locator(f"{PANEL} .jp-OutputArea-output pre", has_text="VBox(children=")
    assert plain.count() == 0, f"{stem}: a viewer shows its text fallback, not the widget"
    viewers = page.locator(f"{PANEL} .jp-OutputArea-output .widget-vbox:has(.widget-slider)")
    assert viewers.count() >= n_viewer_cells, (
        f"{stem}: {viewers.count()} viewer widgets rendered, {n_viewer_cells} cells call one"
    )
    for i in range(viewers.count()):
        viewer = viewers.nth(i)
        viewer.scroll_into_view_if_needed()
        readout = viewer.locator(".widget-readout").first
        z0, src0 = readout.inner_text(), _viewer_image(viewer)
        assert src0.startswith(IMAGE_URIS), f"{stem}: viewer image is {src0[:40]!r}"
        assert len(base64.b64decode(src0.split(",", 1)[1])) > 1000, "the viewer image is empty"
        viewer.screenshot(path=str(SHOTS / f"{stem}-viewer{i}-0-start.png"))
        # z: the slider's handle takes the keyboard, as a student scrolls with arrow keys.
        handle = viewer.locator(".widget-slider .noUi-handle").first
        # One step (each step redraws; one redraw to wait for), down if at the top plane.
        key = (
            "ArrowLeft"
            if viewer.locator(".widget-slider").first.get_attribute("aria-valuemax")
            in (z0.strip(), viewer.locator(".widget-slider").first.get_attribute("aria-valuenow"))
            else "ArrowRight"
        )
        handle.focus()
        handle.press(key)
        src1 = _wait_new_image(viewer, src0, "moving the z slider")
        z1 = readout.inner_text()
        # the readout is a plane index or, where the z step is known, a height ("4.0 um")
        assert z1.strip() != z0.strip(), f"{stem}: z readout stayed at {z0!r} after one step"
        viewer.screenshot(path=str(SHOTS / f"{stem}-viewer{i}-1-z{z1.strip()}.png"))
        # channel: choose another entry of the menu.
        menu = viewer.locator(".widget-dropdown select").first
        options = menu.locator("option").all_inner_texts()
        assert len(options) >= 2, f"{stem}: the channel menu offers {options}"
        current = menu.input_value()
        other = next(o for o in options if o != current)
        menu.select_option(label=other)
        _wait_new_image(viewer, src1, f"choosing channel {other!r}")
        viewer.screenshot(path=str(SHOTS / f"{stem}-viewer{i}-2-{other.replace(' ', '_')}.png"))
    return viewers.count()


# --- the tests --------------------------------------------------------------------------------

VIEWERS_CHECKED: list[int] = []


@pytest.mark.parametrize("path", LECTURES, ids=[p.stem for p in LECTURES])
def test_lecture_in_jupyterlab(path, lab, browser_context, request):
    base, token = lab
    rel = path.relative_to(ROOT).as_posix()
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    n_viewer_cells = sum(any(v in c.source for v in VIEWER_CALLS) for c in code)
    page = browser_context.new_page()
    t0 = time.monotonic()
    try:
        _open(page, base, token, rel)
        if _runs_fully(path):
            _run_all(page)
            page.wait_for_timeout(2000)
            _wait_idle(page, base, token, rel, RUN_TIMEOUT, "Run All Cells")
            errors = _stderr_outputs(page)
            assert not errors, f"{rel}: {len(errors)} cells wrote errors or to stderr: {errors}"
            done = page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt", has_text="]:")
            prompts = done.all_inner_texts()
            unrun = [p for p in prompts if p.strip() in ("[ ]:", "[]:")]
            assert not unrun and len(prompts) == len(code), (
                f"{rel}: {len(unrun)} of {len(code)} code cells did not run"
            )
            _shot_cells(page, path.stem, "run")
            VIEWERS_CHECKED.append(_check_viewers(page, path.stem, n_viewer_cells))
            mode = "ran all cells"
        else:
            stored = sum(
                any(k in o.get("data", {}) for k in IMAGE_TYPES) for c in code for o in c.outputs
            )  # fmt: skip
            shown = page.locator(f"{PANEL} .jp-OutputArea-output img").count()
            assert shown >= stored, f"{rel}: {shown} images shown, {stored} stored"
            errors = _stderr_outputs(page)
            assert not errors, f"{rel}: stored outputs hold errors or stderr: {errors}"
            _shot_cells(page, path.stem, "stored")
            mode = "opened (stored outputs)"
        _say(request, f"[browser] {rel}: {mode} in {time.monotonic() - t0:.0f} s")
    finally:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(SHOTS / f"{path.stem}-last.png"))
        page.close()
        session = _session(base, token, rel)
        if session is not None:  # free the kernel's memory before the next notebook
            req = urllib.request.Request(
                f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE"
            )
            with contextlib.suppress(OSError):
                urllib.request.urlopen(req, timeout=10).close()


def test_some_viewer_was_driven():
    """The viewer checks are not vacuous: at least one fully-run lecture has a viewer."""
    ran = [p.name for p in LECTURES if _runs_fully(p)]
    with_viewer = [
        p.name
        for p in LECTURES
        if _runs_fully(p) and any(v in p.read_text(encoding="utf-8") for v in VIEWER_CALLS)
    ]
    if not with_viewer:
        pytest.skip(f"no fully-run lecture ({ran}) calls a viewer")
    assert sum(VIEWERS_CHECKED) >= len(with_viewer), (
        f"viewers driven: {VIEWERS_CHECKED}; lectures with one: {with_viewer}"
    )


def test_course_website_in_the_browser(browser_context, request, tmp_path):
    """The built site (``COURSEKIT_SITE_DIR``, else built here): the index and lecture 1 load
    with their figures; screenshots of both."""
    site = os.environ.get("COURSEKIT_SITE_DIR")
    if site:
        site = Path(site)
    else:
        if importlib.util.find_spec("myst_nb") is None:
            pytest.skip("the site extra is not installed: pip install -e '.[site]'")
        spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts/build_site.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_site"] = module
        spec.loader.exec_module(module)
        site = tmp_path / "site"
        assert module.build(site) == 0, "the site did not build"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser_context.new_page()
    try:
        pages = [site / "index.html"] + [site / "lectures" / f"{p.stem}.html" for p in LECTURES[:1]]
        for html in pages:
            assert html.is_file(), f"{html} was not built"
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            broken = page.evaluate(
                "Array.from(document.images).filter(i => i.src.startsWith('file:') && "
                "(!i.complete || i.naturalWidth === 0)).map(i => i.src)"
            )
            assert not broken, f"{html.name}: images that do not load: {broken}"
            shot = SHOTS / f"site-{html.stem}.png"
            page.screenshot(path=str(shot), full_page=True)
            _say(request, f"[browser] site page {html.relative_to(site)}: {shot}")
    finally:
        page.close()


def test_restore_helper_puts_back_and_removes(tmp_path, monkeypatch):
    """The restore step of the server fixture, on a scratch folder."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    folder = tmp_path / "lectures"
    folder.mkdir()
    nb = folder / "a.ipynb"
    nb.write_bytes(b'{"x": 1}')
    before = _snapshot(folder)
    nb.write_bytes(b'{"x": 2}')
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    changed = _restore(folder, before)
    assert nb.read_bytes() == b'{"x": 1}', "the notebook was not restored"
    assert not (folder / ".ipynb_checkpoints").exists(), "a created folder was left behind"
    assert sorted(changed) == [
        "created lectures/.ipynb_checkpoints/a-checkpoint.ipynb",
        "modified lectures/a.ipynb",
    ], changed
