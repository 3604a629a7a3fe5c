"""Packaging: what ``python -m build`` makes installs and runs in a fresh venv;
``pymemcg.model`` works without the compiled extension.

The build tests are slow (a build, two venvs, one compile: about a minute)
and need PyPI (the isolated build environment, cffi in the venvs): they
carry the ``packaging`` mark, which ``make test`` runs and
``pytest -m "not packaging"`` leaves out.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile
from typing import Dict, Sequence

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: Run in the fresh venv, from a folder outside the checkout.
SMOKE = """\
import sys
import pymemcg as mc
import pymemcg.model
assert "site-packages" in mc.__file__, mc.__file__
assert "numpy" not in sys.modules, "import pymemcg imported numpy"
for backend in (mc, pymemcg.model):
    h = backend.Hierarchy(backend.Config.current(ncpus=2))
    g = h.create("a")
    g.write("memory.max", "1M")
    assert g.try_charge(3) is None and g.memory.usage == 64
    assert g.try_charge(300) is g
    records = backend.ops([("charge", g, 1, 1), ("uncharge", g, 1, 1), ("charge", g, 1, 7)])
    assert type(records) is bytearray          # no numpy in this venv
    assert [o.kind for o in backend.decode(h.replay(records), h)] == ["ok", "ok", "error"]
print("smoke ok", mc.__version__)
"""

TRACE = b"config current ncpus=2\ncreate a\ncharge a 10 cpu=1\n"


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def _run(cmd: Sequence[object], cwd: pathlib.Path, timeout: float = 600) -> str:
    p = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=_env(), capture_output=True,
                       timeout=timeout)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{out[-6000:]}"
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """``python -m build``: the sdist, then the wheel built from the sdist."""
    pytest.importorskip("build", reason="the `build` package (in the test extra)")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=ROOT)
    return out


def _only(dist: pathlib.Path, pattern: str) -> pathlib.Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"{pattern}: {[p.name for p in dist.iterdir()]}"
    return found[0]


def _fresh_venv(where: pathlib.Path) -> pathlib.Path:
    _run([sys.executable, "-m", "venv", where], cwd=where.parent)
    return where / "bin"


def _check_installed(bin_dir: pathlib.Path, cwd: pathlib.Path) -> None:
    assert "smoke ok" in _run([bin_dir / "python", "-c", SMOKE], cwd=cwd)
    version = _run([bin_dir / "pymemcg", "--version"], cwd=cwd)
    assert version.strip().startswith("pymemcg ")
    p = subprocess.run([str(bin_dir / "pymemcg"), "replay", "--compare", "-"], input=TRACE,
                       cwd=str(cwd), env=_env(), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.startswith(b"records: 1 replayed (charged 1"), p.stdout


@pytest.mark.packaging
def test_one_abi3_wheel(dist: pathlib.Path) -> None:
    wheel = _only(dist, "*.whl")
    assert "-cp39-abi3-" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        tags = [line for line in z.read(info).decode().splitlines() if line.startswith("Tag:")]
    assert tags and all("cp39-abi3-" in t for t in tags), tags
    assert "pymemcg/_core.abi3.so" in names and "pymemcg/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in meta
    for extra in ("numpy", "testing", "plot", "bench", "progress", "test"):
        assert f"Provides-Extra: {extra}" in meta


@pytest.mark.packaging
def test_sdist_has_the_c_sources(dist: pathlib.Path) -> None:
    sdist = _only(dist, "*.tar.gz")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    wanted = {f"csrc/{p.name}" for p in (ROOT / "csrc").iterdir() if p.suffix in (".c", ".h")}
    assert wanted and wanted <= names, sorted(wanted - names)
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in",
            "pymemcg/py.typed", "pymemcg/_build.py", "pymemcg/model/__init__.py"} <= names
    assert not [n for n in names if n.endswith((".so", ".o", ".pyc"))]


@pytest.mark.packaging
def test_wheel_installs_in_a_fresh_venv(dist: pathlib.Path, tmp_path: pathlib.Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "venv")
    _run([bin_dir / "python", "-m", "pip", "install", "-q", _only(dist, "*.whl")], cwd=tmp_path)
    _check_installed(bin_dir, tmp_path)


@pytest.mark.packaging
def test_sdist_builds_and_installs_in_a_fresh_venv(dist: pathlib.Path,
                                                  tmp_path: pathlib.Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "venv")
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "--no-binary", "pymemcg",
          _only(dist, "*.tar.gz")], cwd=tmp_path)
    _check_installed(bin_dir, tmp_path)


# ------------------------------------------------------------------ without the C core

#: Hides pymemcg._core, as on a checkout never built.
HIDE_CORE = """\
import sys
class HideCore:
    def find_spec(self, name, path=None, target=None):
        if name == "pymemcg._core":
            raise ModuleNotFoundError("No module named 'pymemcg._core'", name=name)
        return None
sys.meta_path.insert(0, HideCore())
"""


def _python(code: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-c", HIDE_CORE + code], cwd=str(ROOT), env=_env(),
                          capture_output=True, text=True, timeout=120)


def test_model_imports_without_the_extension() -> None:
    p = _python(
        "import pymemcg.model as m\n"
        "assert 'pymemcg._core' not in sys.modules and '_cffi_backend' not in sys.modules\n"
        "assert 'numpy' not in sys.modules\n"
        "h = m.Hierarchy(m.Config.current())\n"
        "g = h.create('a')\n"
        "assert g.try_charge(5) is None and g.memory.usage == 64\n"
        "assert m.PageCounter(max=3).try_charge(4) is not None\n"
        "assert m.memparse('1k') == 1024\n"
        "print('model ok')\n")
    assert p.returncode == 0 and "model ok" in p.stdout, p.stderr


def test_c_backed_names_say_how_to_build() -> None:
    p = _python(
        "import pymemcg\n"
        "assert pymemcg.Config.current().ncpus == 1 and pymemcg.GFP_KERNEL\n"
        "for name in ('Hierarchy', 'Cgroup', 'PageCounter', 'memparse', 'page_counter_memparse'):\n"
        "    try:\n"
        "        getattr(pymemcg, name)\n"
        "    except ImportError as e:\n"
        "        assert 'compiled C core' in str(e) and 'pymemcg.model' in str(e), e\n"
        "        assert e.name == 'pymemcg._core'\n"
        "    else:\n"
        "        raise AssertionError(name)\n"
        "try:\n"
        "    from pymemcg import Hierarchy\n"
        "except ImportError as e:\n"
        "    print('from-import:', e)\n"
        "try:\n"
        "    pymemcg.nosuch\n"
        "except AttributeError:\n"
        "    print('attribute error ok')\n")
    assert p.returncode == 0, p.stderr
    assert "from-import: pymemcg.Hierarchy needs the compiled C core" in p.stdout
    assert "attribute error ok" in p.stdout


def test_other_import_errors_are_not_hidden() -> None:
    """Only a missing pymemcg._core is soft: another broken import still fails."""
    p = subprocess.run(
        [sys.executable, "-c",
         "import sys\n"
         "class Hide:\n"
         "    def find_spec(self, name, path=None, target=None):\n"
         "        if name == 'pymemcg._views':\n"
         "            raise ModuleNotFoundError('hidden', name=name)\n"
         "sys.meta_path.insert(0, Hide())\n"
         "import pymemcg\n"],
        cwd=str(ROOT), env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "hidden" in p.stderr


def test_import_pymemcg_does_not_import_numpy() -> None:
    p = subprocess.run([sys.executable, "-c",
                        "import sys, pymemcg, pymemcg.model, pymemcg.cli\n"
                        "assert 'numpy' not in sys.modules\n"
                        "assert 'tqdm' not in sys.modules\n"],
                       cwd=str(ROOT), env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
