"""Build script: compiles csrc/ into pymemcg._core through CFFI.

The extension uses only CPython's limited API (CFFI's ``py_limited_api``,
see ``pymemcg/_build.py``), so one wheel tagged ``cp39-abi3`` serves every
CPython from 3.9 on, as argon2-cffi and cryptography do.
"""

import sys
import sysconfig

from setuptools import setup

# A debug (Py_DEBUG) or free-threaded interpreter cannot build limited-API
# extensions: there the extension and the wheel are version-specific.  The
# same test decides py_limited_api in pymemcg/_build.py.
_LIMITED = not hasattr(sys, "gettotalrefcount") and not sysconfig.get_config_var("Py_GIL_DISABLED")

setup(
    cffi_modules=["pymemcg/_build.py:ffibuilder"],
    options={"bdist_wheel": {"py_limited_api": "cp39"}} if _LIMITED else {},
)
