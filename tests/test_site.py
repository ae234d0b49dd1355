"""The course website (``make site``): built into a temporary folder from the stored outputs,
it has a page per lecture notebook with every stored figure, the index with the lecture
table, the projects page when there is one, the instructor guide and the API reference, and
no internal link or image that points at a missing file. About 1 min on 2 CPU cores (Sphinx
and autodoc; no notebook is executed). Run by ``.ci/run`` and ``make site``'s checks."""

import importlib.util
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.classroom,
    pytest.mark.skipif(
        importlib.util.find_spec("myst_nb") is None or importlib.util.find_spec("sphinx") is None,
        reason="the site extra is not installed: pip install -e '.[site]'",
    ),
]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.images, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])


def _parse(path: Path) -> _Refs:
    refs = _Refs()
    refs.feed(path.read_text(encoding="utf-8"))
    return refs


def _internal(url: str) -> bool:
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("mailto:", "javascript:"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    status = _load_script("build_site").build(out)
    assert status == 0, f"sphinx failed with status {status} (run `make site` to see its log)"
    return out


def test_every_lecture_has_a_page_with_its_figures(site):
    assert LECTURES, "no lecture notebooks"
    for nb_path in LECTURES:
        page = site / "lectures" / f"{nb_path.stem}.html"
        assert page.is_file(), f"no page for {nb_path.name}"
        nb = nbformat.read(nb_path, as_version=4)
        stored = sum(
            any(k in out.get("data", {}) for k in ("image/png", "image/jpeg"))
            for cell in nb.cells
            if cell.cell_type == "code"
            for out in cell.outputs
        )
        local = [src for src in _parse(page).images if _internal(src)]
        assert len(local) >= stored, (
            f"{page.name}: {len(local)} figures shown, the notebook stores {stored}"
        )
        for src in local:
            target = (page.parent / unquote(urlsplit(src).path)).resolve()
            assert target.is_file() and target.stat().st_size > 0, f"{page.name}: no file {src}"


def test_index_lists_the_lectures_goals_and_times(site):
    index = site / "index.html"
    text = index.read_text(encoding="utf-8")
    assert "Learning goals" in text, "the index has no learning goals"
    links = _parse(index).links
    for nb_path in LECTURES:
        assert f"lectures/{nb_path.stem}.html" in links, f"index does not link {nb_path.stem}"
    assert re.search(r"\d+\.\d min|not yet measured", text), "the lecture table has no times"


def test_projects_teaching_and_api_pages(site):
    if any((ROOT / p).is_file() for p in ("PROJECTS.md", "lectures/projects.md")):
        assert (site / "projects.html").is_file(), "the projects page was not built"
    assert (site / "teaching.html").is_file(), "the instructor guide was not built"
    api = (site / "api.html").read_text(encoding="utf-8")
    # autodoc ran: a documented function with its NumPy-style sections.
    for name in ("coursekit.microscope", "simulate_field", "pearson_r", "stack_viewer"):
        assert name in api, f"the API reference lacks {name}"
    assert "Parameters" in api, "the API reference shows no docstring sections"


def test_no_broken_internal_link_or_image(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > len(LECTURES), f"only {len(pages)} pages"
    ids = {page: _parse(page).ids for page in pages}
    broken = []
    for page in pages:
        refs = _parse(page)
        for url in refs.links + refs.images:
            if not _internal(url):
                continue
            parts = urlsplit(url)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)} -> {url}")
            elif parts.fragment and target.suffix == ".html" and target in ids:
                if parts.fragment not in ids[target]:
                    broken.append(f"{page.relative_to(site)} -> {url} (no such anchor)")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:30])
