"""The layer contracts (pyproject.toml, ``[tool.importlinter]``) hold, and they would catch a
wrong-way import: a copy of the tree with identity importing the CRM must fail them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("advisorportal", "accounts", "crm", "portfolios", "funding", "billing", "reports", "onboarding", "devtools")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is in the dev extra")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120, check=False
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("migrations", "templates"))
    return tmp_path


def test_the_tree_keeps_its_layers() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        ("accounts/rights.py", "import crm.models", "Layers"),  # identity importing the book
        ("crm/search.py", "import portfolios.models", "Layers"),  # crm past portfolios' selectors
        ("billing/views.py", "import funding.views", "Layers"),  # one feature importing another
        ("advisorportal/tenancy/context.py", "import accounts.rights", "The floor imports no app"),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(tmp_path: Path, module: str, wrong_import: str, broken: str) -> None:
    tree = _copy(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # noqa\n")
    done = _lint(tree)
    assert done.returncode != 0
    broken_lines = [line for line in done.stdout.splitlines() if " BROKEN" in line]
    assert [line for line in broken_lines if line.startswith(broken)], done.stdout
