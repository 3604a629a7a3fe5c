"""The README's examples are executed, on both backends."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples() -> None:
    assert _python_blocks(), "README.md lost its python example"


@pytest.mark.parametrize("index", range(len(_python_blocks())))
@pytest.mark.parametrize("module", ["pymemcg", "pymemcg.model"])
def test_readme_example_runs(index: int, module: str) -> None:
    code = _python_blocks()[index]
    if module != "pymemcg":
        code = code.replace("import pymemcg as mc", f"import {module} as mc")
    exec(compile(code, f"README.md[{index}]", "exec"), {"__name__": "readme"})


def test_readme_opens_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert "pymemcg" in first
    head = text[:800]
    assert "make demo" in head and "make test" in head
