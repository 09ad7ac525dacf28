"""A cheap job for the executor tests (its own module: spawned workers import it, and
it imports nothing heavy)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.ml.jobs import RESULT


@dataclass(frozen=True)
class EchoJob:
    """A job that fails if a job it needs has no result yet, or if ``fail`` exists in its folder."""

    name: str
    root: Path
    after: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.name

    @property
    def needs(self) -> tuple[str, ...]:
        return self.after

    @property
    def title(self) -> str:
        return f"job {self.name}"

    @property
    def run_dir(self) -> Path:
        return self.root / self.name

    def execute(self, on_event: object = None) -> dict[str, Any]:
        for need in self.after:
            if not (self.root / need / RESULT).is_file():
                raise RuntimeError(f"{self.name} ran before {need}")
        if (self.run_dir / "fail").exists():
            raise RuntimeError(f"{self.name} was told to fail")
        payload = {"key": self.name, "pid": os.getpid()}
        (self.run_dir / RESULT).write_text(json.dumps(payload))
        return payload
