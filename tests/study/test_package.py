"""The study machinery is one package without import cycles, and the old flat modules are gone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mcr_eval

PACKAGE = Path(mcr_eval.__file__).parent
MODULES = sorted(p.stem for p in (PACKAGE / "study").glob("*.py") if p.stem not in ("__init__", "__main__"))


def _imports(path: Path) -> set[str]:
    """Every ``mcr_eval.study.*`` module a file imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mcr_eval.study."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("mcr_eval.study.")}
    return found


def test_the_study_package_has_no_import_cycle():
    graph = {m: _imports(PACKAGE / "study" / f"{m}.py") for m in MODULES}
    assert set().union(*graph.values()) <= set(MODULES)
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for dep in graph[module]:
                visit(dep, (*path, module))
            done.add(module)

    for module in MODULES:
        visit(module, ())
    # The runner sits on top; nothing below it imports it.
    assert not any("runner" in deps for deps in graph.values())


@pytest.mark.parametrize("module", MODULES)
def test_each_study_module_imports_alone(module):
    done = subprocess.run([sys.executable, "-c", f"import mcr_eval.study.{module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_flat_study_modules_remain_at_the_top_of_mcr_eval():
    assert sorted(p.name for p in PACKAGE.glob("study*.py")) == []
    assert not (PACKAGE / "lr_selection.py").exists()


def test_the_study_command_is_registered_and_documents_the_grid(capsys):
    from mcr_eval.cli import COMMANDS, main

    assert COMMANDS["study"][0] == "mcr_eval.commands.study"
    with pytest.raises(SystemExit) as exc:
        main(["study", "--help"])
    text = capsys.readouterr().out
    assert exc.value.code == 0
    assert "methods x regularizers x seeds x evaluations" in text and "--only PATTERN" in text
