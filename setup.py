"""Build script: compiles csrc/ into pymemcg._core through CFFI."""

from setuptools import setup

setup(
    cffi_modules=["pymemcg/_build.py:ffibuilder"],
)
