"""The import contracts of docs/architecture.md hold.

The contracts live in pyproject.toml (``[tool.importlinter]``); this test runs them with
import-linter and, when one breaks, fails with the import chains that break it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "src" / "media_gateway"

# outside the layers: the router and composition (their own contracts) and the entry point,
# which imports each command's module lazily by name
OUTSIDE_THE_LAYERS = {"gateway", "composition", "cli"}


def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--no-cache",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, "import contracts broken:\n" + report[report.find("Contracts") :]


def test_every_top_level_module_has_a_place() -> None:
    """A module beside the layers would escape the contracts: each belongs to a layer."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = (c for c in config["contracts"] if c["id"] == "layers")
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    placed |= OUTSIDE_THE_LAYERS
    present = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert sorted(present - placed) == []
