"""coursekit: deep learning for label-free microscopy, as a runnable course.

The package holds the helpers the course notebooks use:

- :mod:`coursekit.io`: OME-TIFF reading and writing with axes and pixel sizes;
- :mod:`coursekit.datasets`: a checksummed downloader for real public data sets;
- :mod:`coursekit.microscope`: the virtual microscope that simulates cells;
- :mod:`coursekit.models`: a compact 2D/3D U-Net, training and tiled prediction;
- :mod:`coursekit.metrics`: Pearson r, NRMSE, SSIM, PSNR and the noise ceiling;
- :mod:`coursekit.hallucination`: probes and maps to critique predictions;
- :mod:`coursekit.analysis`: segment and count nuclei, match instances, line profiles;
- :mod:`coursekit.experiments`: train on the simulator, predict held-out fields, score them;
- :mod:`coursekit.realdata`: the same on real paired images (load, split, train, score);
- :mod:`coursekit.normalize`, :mod:`coursekit.plotting`, :mod:`coursekit.viewer`: shared
  normalization, figures and a z-stack viewer.

Submodules are imported lazily so that ``import coursekit`` stays fast.
"""

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = (
    "io",
    "datasets",
    "microscope",
    "models",
    "metrics",
    "hallucination",
    "normalize",
    "experiments",
    "realdata",
    "plotting",
    "viewer",
    "exercises",
    "analysis",
    "grading",
)

__all__ = ["__version__", "self_check", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"coursekit.{name}")
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")


def self_check() -> dict:
    """Report the versions of the libraries the course relies on and the compute device.

    Returns
    -------
    dict
        ``{"coursekit": ..., "python": ..., "numpy": ..., "torch": ..., "device": ...}``.
    """
    import platform

    import numpy

    info = {
        "coursekit": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["device"] = f"cuda ({torch.cuda.get_device_name(0)})"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            info["device"] = "mps"
        else:
            info["device"] = "cpu"
    except ImportError:  # pragma: no cover - torch is a hard dependency
        info["torch"] = "missing"
        info["device"] = "cpu"
    return info
