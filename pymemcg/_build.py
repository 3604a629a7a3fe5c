"""The CFFI builder of ``pymemcg._core`` (API, out-of-line mode).

The cdef is generated from ``csrc/pymemcg.h``: the text between the
``PYMEMCG_CDEF_BEGIN`` and ``PYMEMCG_CDEF_END`` markers, so the binding can
never drift from the header (``tests/test_cdef.py`` checks the compiled
module against the header too).  Every ``csrc/*.c`` file is compiled into
the one extension module.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import sysconfig

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")
HEADER = os.path.join(CSRC, "pymemcg.h")

_BEGIN = "/* PYMEMCG_CDEF_BEGIN */"
_END = "/* PYMEMCG_CDEF_END */"


def cdef_from_header(path: str = HEADER) -> str:
    """Return the cdef block of the public header."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        start = text.index(_BEGIN) + len(_BEGIN)
        end = text.index(_END, start)
    except ValueError:
        raise RuntimeError(f"{path}: cdef markers missing") from None
    block = text[start:end]
    # CFFI understands comments and integer #defines; nothing else may be there.
    for line in block.splitlines():
        if line.startswith("#") and not re.match(r"#define \w+ -?\d+\s*(/\*.*\*/\s*)?$", line):
            raise RuntimeError(f"{path}: unsupported preprocessor line in cdef: {line}")
    return block


def _sources() -> list[str]:
    # Relative paths keep the build reproducible from the project root.
    root = os.path.dirname(HERE)
    return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(CSRC, "*.c")))


#: Declarations of the binding itself, not of the C core: the reclaim hook is
#: the one function C calls back in Python.
BINDING_CDEF = 'extern "Python" int64_t pmc_py_reclaim(int64_t, int64_t, int64_t);'

#: Build against CPython's limited API (stable ABI): one ``_core.abi3.so``
#: and one ``cp39-abi3`` wheel for every CPython >= 3.9 (setup.py tags the
#: wheel).  Not possible on a debug or free-threaded interpreter.
PY_LIMITED_API = not hasattr(sys, "gettotalrefcount") and not sysconfig.get_config_var(
    "Py_GIL_DISABLED")

ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header())
ffibuilder.cdef(BINDING_CDEF)
ffibuilder.set_source(
    "pymemcg._core",
    '#include "pymemcg.h"\n',
    sources=_sources(),
    include_dirs=[os.path.relpath(CSRC, os.path.dirname(HERE))],
    extra_compile_args=["-std=c11", "-O2", "-flto", "-fvisibility=hidden", "-Wall", "-Wextra", "-pthread", "-D_GNU_SOURCE"],
    extra_link_args=["-pthread", "-flto", "-O2"],
    py_limited_api=PY_LIMITED_API,
)

if __name__ == "__main__":  # pragma: no cover - manual build
    os.chdir(os.path.dirname(HERE))
    ffibuilder.compile(verbose="-v" in sys.argv)
