"""What the README lists that the code decides: the environment variables the tool reads."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

# Names shaped like the environment variables of the tool and of the libraries it drives.
VARIABLE = re.compile(r"(SUMMARIZE|HF|RAY|XDG|CUDA|OMP|MKL|TRANSFORMERS)_[A-Z0-9_]+")
#: set by the tool around one import, never a user's choice (see summarize.runners.ray)
INTERNAL = {"RAY_DISABLE_FAILURE_SIGNAL_HANDLER"}


def variables_in_code() -> set[str]:
    """Every string constant of the package that names such a variable."""
    found = set()
    for module in (ROOT / "summarize").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and VARIABLE.fullmatch(text):
                found.add(text)
    return found - INTERNAL


def test_the_readme_lists_every_environment_variable_the_tool_reads() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("### Environment variables", 1)[1].split("\n## ", 1)[0]
    listed = {m.group() for m in VARIABLE.finditer(section)}
    in_code = variables_in_code()
    assert {"SUMMARIZE_SERVER", "SUMMARIZE_CACHE", "HF_HUB_OFFLINE"} <= in_code  # the scan works
    assert in_code <= listed, f"not in the README's list: {sorted(in_code - listed)}"
