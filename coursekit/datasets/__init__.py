"""Real public data sets: a checksummed downloader over a registry kept as data.

The registry is ``data/registry.json`` in the repository, shipped inside the package as
``coursekit._registry/registry.json``; it is the single source of truth for what can be
downloaded, from where, under which licence and with which hash. :func:`fetch` downloads
the files of a data set once (with a progress bar), checks them, unpacks archives and
returns local paths; later calls use the cached copies without touching the network.

Checks
    A *verified* file has a sha256 in the registry, computed from the exact file behind
    its URL. It is checked after every download and on every later use; a download that
    does not match is refused (:class:`HashMismatchError`) and not kept; a cached file
    that does not match is moved aside to ``<file>.rejected`` (never deleted) and
    downloaded again: it is never returned. An *unverified* file (no hash in the
    registry) is trusted on first use, but only after every check that needs no hash:
    its size against the registry or ``Content-Length``, no HTML page (a captive portal)
    in place of a binary file, archives that read to the end and unpack. Its sha256 is
    then recorded next to it (``<file>.tofu.json``), every later use is checked against
    that record, and every use warns with :class:`UnverifiedHashWarning` until a
    verified hash is put in the registry.

Deadline
    Every download has an overall deadline (``deadline_s=`` or the environment variable
    ``COURSEKIT_DOWNLOAD_DEADLINE``; by default 10 minutes plus the size at 50 kB/s), so
    a stalled or dripping server ends in a :class:`DownloadError`, not a hang.

Cache folder
    :func:`data_dir`: the ``data_dir=`` argument, else the environment variable
    ``COURSEKIT_DATA_DIR``, else pooch's default cache (``pooch.os_cache("coursekit")``,
    e.g. ``~/.cache/coursekit`` on Linux). Files live in ``<cache>/<data set>/<file>``;
    archives are unpacked next to themselves, in ``<file>.untar`` or ``<file>.unzip``.
    A cache holding verified files can be shared read-only (e.g. on a JupyterHub). A
    cache folder that is a file or cannot be written raises :class:`DataDirError`.

Mirrors
    ``base_url=`` (or the environment variable ``COURSEKIT_DATA_BASE_URL``) replaces every
    URL by ``<base_url>/<data set>/<file>`` (file name percent-encoded): the same layout as
    the cache, so any web server that serves a copy of a filled cache folder is a mirror
    (a classroom server, a proxy-friendly host, or a test server). Hashes are checked
    exactly as for the original source.

Offline
    When a download fails, :class:`DownloadError` names the URL, the cache folder and the
    path where the file can be placed by hand.

Examples
--------
>>> from coursekit import datasets
>>> [d.name for d in datasets.list_datasets()][:2]
['isl_condition_blue', 'allen_label_free']
>>> datasets.dataset_info("isl_condition_blue").licence
'Apache-2.0'
>>> phase, targets = datasets.load_isl_sample()  # doctest: +SKIP
>>> phase.shape, sorted(targets)  # doctest: +SKIP
((13, 1024, 1024), ['DAPI', 'MAP2', 'NFH'])

The package
    :mod:`~coursekit.datasets.registry` (the registry: parsing, :class:`Dataset`,
    :class:`FileEntry`, :func:`list_datasets`, :func:`dataset_info`),
    :mod:`~coursekit.datasets.fetch` (:func:`fetch`, :func:`list_files`: cache, checks,
    trust on first use, archives; helped by ``cache``, ``download``, ``trust``,
    ``archives`` and ``zenodo``) and :mod:`~coursekit.datasets.isl`
    (:func:`load_isl_sample`). Import everything from ``coursekit.datasets``.
"""

from __future__ import annotations

from coursekit.datasets.cache import BASE_URL_ENV, DATA_DIR_ENV, data_dir
from coursekit.datasets.download import DEADLINE_ENV
from coursekit.datasets.errors import (
    DataDirError,
    DownloadError,
    HashMismatchError,
    RegistryError,
    UnverifiedHashWarning,
)
from coursekit.datasets.fetch import fetch, list_files
from coursekit.datasets.isl import load_isl_sample
from coursekit.datasets.registry import (
    Dataset,
    DatasetSummary,
    FileEntry,
    Registry,
    dataset_info,
    list_datasets,
    load_registry,
)

__all__ = [
    "fetch",
    "list_datasets",
    "dataset_info",
    "list_files",
    "data_dir",
    "load_registry",
    "load_isl_sample",
    "Registry",
    "Dataset",
    "FileEntry",
    "DatasetSummary",
    "RegistryError",
    "HashMismatchError",
    "DownloadError",
    "DataDirError",
    "UnverifiedHashWarning",
    "DATA_DIR_ENV",
    "BASE_URL_ENV",
    "DEADLINE_ENV",
]
