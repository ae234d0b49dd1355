"""The errors and warnings of :mod:`coursekit.datasets` (one place, no imports, so every
module of the package can raise them)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "RegistryError",
    "HashMismatchError",
    "DownloadError",
    "DataDirError",
    "UnverifiedHashWarning",
]


class RegistryError(ValueError):
    """The registry file is malformed; the message lists every problem found."""


class HashMismatchError(ValueError):
    """A file's hash differs from the expected one; the file was refused (never returned).

    Attributes
    ----------
    name : str
        The registry entry (``"<data set>/<file>"``).
    expected, actual : str
        Hex digests.
    algorithm : str
        ``"sha256"`` or ``"md5"``.
    url : str
        Where the refused file came from.
    """

    def __init__(
        self, message: str, *, name: str, expected: str, actual: str, algorithm: str, url: str
    ):
        super().__init__(message)
        self.name = name
        self.expected = expected
        self.actual = actual
        self.algorithm = algorithm
        self.url = url


class DownloadError(ConnectionError):
    """A file could not be downloaded (no network, server down, HTTP error).

    The message names the URL, the cache folder, and where to place the file by hand.

    Attributes
    ----------
    name : str
        The registry entry (``"<data set>/<file>"``).
    url : str
        The URL that failed.
    path : pathlib.Path
        Where the file is expected in the cache.
    cache_dir : pathlib.Path
        The cache folder in force.
    """

    def __init__(self, message: str, *, name: str, url: str, path: Path, cache_dir: Path):
        super().__init__(message)
        self.name = name
        self.url = url
        self.path = path
        self.cache_dir = cache_dir


class UnverifiedHashWarning(UserWarning):
    """A file was used without a verified hash (trust on first use)."""


class DataDirError(OSError):
    """The cache folder cannot be used (a file, not writable, or a folder where a file belongs).

    The message names the folder and the two ways to use another one: the ``data_dir=``
    argument and the environment variable ``COURSEKIT_DATA_DIR``.

    Attributes
    ----------
    path : pathlib.Path
        The folder (or file) that is in the way.
    """

    def __init__(self, message: str, *, path: Path):
        super().__init__(message)
        self.path = path
