"""Package data of coursekit: this folder is installed as ``coursekit._registry``.

``registry.json`` here is the data registry read by :mod:`coursekit.datasets`
(``importlib.resources.files("coursekit._registry") / "registry.json"``). The mapping is
``[tool.setuptools.package-dir]`` in ``pyproject.toml``; this file makes the folder a
regular package, which setuptools' editable installs need to find it.
"""
