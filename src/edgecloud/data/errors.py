"""The one error type raised for bad dataset input."""

from __future__ import annotations

from pathlib import Path


class DatasetFormatError(ValueError):
    """A dataset file is missing, corrupt or malformed.

    The message always names the file, the 1-based line number when the problem is on a line,
    and what was wrong, so a user can open the file and fix it.
    """

    def __init__(self, path: str | Path, problem: str, *, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else f"{self.path}"
        super().__init__(f"{where}: {problem}")
