"""Zenodo records: the file list comes from the record's listing (Zenodo's API), kept
in the cache as ``<data set>/zenodo-record.json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import quote

from coursekit.datasets.cache import Context, mirror_url, move_aside
from coursekit.datasets.errors import RegistryError
from coursekit.datasets.registry import (
    MD5_RE,
    ZENODO_LISTING,
    Dataset,
    FileEntry,
    safe_file_name,
)

__all__: list[str] = []


def list_entries(dataset: Dataset, ctx: Context, download_file: Callable) -> tuple[FileEntry, ...]:
    """The data set's files: from the registry, or from the record's (cached) listing.

    ``download_file`` is :func:`coursekit.datasets.fetch.download_file` (passed in so that
    this module does not import the fetching module that imports it).
    """
    if dataset.files is not None:
        return dataset.files
    listing = ctx.root / dataset.name / ZENODO_LISTING
    if not listing.is_file():
        url = (
            mirror_url(ctx.base, dataset.name, ZENODO_LISTING)
            if ctx.base
            else dataset.zenodo["listing_url"]
        )
        pseudo = FileEntry(
            name=f"{dataset.name}/{ZENODO_LISTING}",
            dataset=dataset.name,
            file=ZENODO_LISTING,
            url=dataset.zenodo["listing_url"],
            sha256=None,
            size=None,
            verified=False,
            description="Zenodo's listing of the record's files",
            licence=dataset.licence,
            citation=dataset.citation,
        )
        quiet = Context(ctx.root, ctx.base, False, ctx.deadline_s)
        download_file(pseudo, url, listing, quiet, expected=None, record=listing)
    try:
        return parse_listing(dataset, json.loads(listing.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        kept = move_aside(listing)
        raise RegistryError(
            f"the Zenodo listing of {dataset.name!r} ({dataset.zenodo['listing_url']}) could not "
            f"be read ({exc}); it was moved aside to {kept} and is downloaded again on the next "
            "call"
        ) from exc


def parse_listing(dataset: Dataset, data: Mapping) -> tuple[FileEntry, ...]:
    raw = data["files"]
    if isinstance(raw, Mapping):  # /api/records/<id>/files answers {"entries": [...]}
        raw = raw["entries"]
        raw = list(raw.values()) if isinstance(raw, Mapping) else raw
    entries = []
    for item in raw:
        fname = item.get("key") or item.get("filename")
        if not isinstance(fname, str) or not safe_file_name(fname):
            raise ValueError(f"unusable file name {fname!r}")
        checksum = str(item.get("checksum") or "")
        md5 = checksum.split(":", 1)[1] if checksum.startswith("md5:") else checksum
        size = item.get("size", item.get("filesize"))
        entries.append(
            FileEntry(
                name=f"{dataset.name}/{fname}",
                dataset=dataset.name,
                file=fname,
                url=dataset.zenodo["url_pattern"].format(file=quote(fname, safe="")),
                sha256=None,
                size=int(size) if size else None,
                verified=False,
                description=f"{fname} from Zenodo record {dataset.doi}",
                licence=dataset.licence,
                citation=dataset.citation,
                unpack="zip" if fname.lower().endswith(".zip") else None,
                md5=md5.lower() if MD5_RE.match(md5.lower()) else None,
            )
        )
    if not entries:
        raise ValueError("the record lists no files")
    return tuple(entries)
