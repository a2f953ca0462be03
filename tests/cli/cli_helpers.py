"""Running the command line in-process and reading what it printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gypsum_flows.cli import main


@dataclass
class Result:
    """Exit code, stdout and stderr of one command."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(capsys: Any, argv: list[str]) -> Result:
    """``gypsum-flows argv`` in this process; SystemExit (argparse errors, --version) becomes the code."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
