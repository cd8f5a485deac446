"""How a synthetic world lives on disk, shared by every world (drone, action).

A world is a directory holding its dataset files and a ``world.json`` with the config that made
it and the generator's format version. It is rendered into a temporary sibling directory and
renamed into place when complete, so a reader sees the old complete world, no world, or the new
complete one, never a mix; concurrent callers (DataLoader workers, parallel test processes) take
an advisory lock beside it so it is generated once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

WORLD_FILE = "world.json"


def config_json(config: Any) -> dict[str, Any]:
    """A config dataclass as it is stored in ``world.json`` (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def read_world(root: str | Path) -> dict[str, Any] | None:
    """The parsed ``world.json`` of a generated world, or None when absent or unreadable."""
    try:
        return json.loads((Path(root) / WORLD_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_current(root: str | Path, *, config: Any, format_version: int) -> bool:
    """Whether ``root`` holds a complete world generated from exactly ``config`` by a generator
    of ``format_version``."""
    world = read_world(root)
    return (
        world is not None
        and world.get("format_version") == format_version
        and world.get("config") == config_json(config)
    )


def generate_into(root: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(staging)`` on a fresh temporary sibling of ``root``, then rename it to
    ``root`` (replacing what was there); an interrupted ``write`` leaves no partial world."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".partial", dir=root.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the world is meant to be shared
    try:
        write(staging)
        retired = staging.with_name(staging.name + ".old")
        if root.exists():
            root.rename(retired)
        staging.rename(root)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold an advisory lock file beside ``root`` so concurrent callers generate it once."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(
    root: str | Path, *, config: Any, format_version: int, generate: Callable[[], object]
) -> Path:
    """Return ``root`` at once if it already holds ``config``'s world, else call ``generate()``
    under the lock (unless another caller generated it meanwhile)."""
    root = Path(root)
    if is_current(root, config=config, format_version=format_version):
        return root
    with locked(root):
        if not is_current(root, config=config, format_version=format_version):
            generate()
    return root


def config_parser(config_type: type, *, prog: str, description: str) -> argparse.ArgumentParser:
    """Command-line options of a world's CLI: ``--root``, one option per field of the config
    dataclass (``LOW HIGH`` pairs for tuple fields), ``--workers`` and ``--force``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--root", type=Path, required=True, help="dataset directory to write")
    defaults = config_type()
    for spec in dataclasses.fields(config_type):
        default = getattr(defaults, spec.name)
        flag = "--" + spec.name.replace("_", "-")
        if isinstance(default, tuple):
            parser.add_argument(
                flag,
                dest=spec.name,
                type=type(default[0]),
                nargs=2,
                default=default,
                metavar=("LOW", "HIGH"),
            )
        else:
            parser.add_argument(flag, dest=spec.name, type=type(default), default=default)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    return parser


def config_from_args(config_type: type, args: argparse.Namespace) -> Any:
    """The config dataclass the parsed :func:`config_parser` options describe."""
    return config_type(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)})
