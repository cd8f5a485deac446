"""Import a file of the repository's script folders (``scripts/``, ``benchmarks/``), which are
not packages, as a module the tests can call."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parents[1]


def load_script(folder: str, name: str) -> ModuleType:
    """Import ``<folder>/<name>.py`` of the repository as the module ``<folder>_<name>``."""
    spec = importlib.util.spec_from_file_location(
        f"{folder}_{name}", REPOSITORY / folder / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
