"""The CFFI cdef and csrc/pymemcg.h cannot drift apart.

The cdef is generated from the header at build time; these tests check that
the *compiled* module still matches the header on disk (a stale build or a
hand-edited cdef fails here), function by function and struct by struct.
"""

from __future__ import annotations

import re

import pycparser
from cffi import FFI

from pymemcg import _build
from pymemcg._core import ffi, lib


def _header_ffi() -> FFI:
    f = FFI()
    f.cdef(_build.cdef_from_header())
    return f


def _declared_functions() -> list[str]:
    text = _build.cdef_from_header()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.findall(r"^\s*\w[\w\s\*]*?\b(pmc_\w+)\s*\(", text, flags=re.M)


def test_every_header_function_is_compiled_with_the_same_type() -> None:
    header = _header_ffi()
    names = _declared_functions()
    assert len(names) >= 20
    for name in names:
        compiled = ffi.typeof(getattr(lib, name)).cname
        want = header.typeof(_signature_of(name)).cname
        assert compiled == want, name


def _signature_of(name: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", _build.cdef_from_header(), flags=re.S)
    m = re.search(r"^\s*(\w[\w\s\*]*?)\b" + name + r"\s*\(([^)]*)\)\s*;", text, flags=re.M)
    assert m, name
    ret, args = m.group(1).strip(), m.group(2).strip()
    return f"{ret}(*)({args})"


def test_structs_match() -> None:
    header = _header_ffi()
    for struct in ("struct pmc_page_counter_info", "struct pmc_bench_result"):
        assert ffi.sizeof(struct) == header.sizeof(struct)
        got = [(n, f.type.cname, f.offset) for n, f in ffi.typeof(struct).fields]
        want = [(n, f.type.cname, f.offset) for n, f in header.typeof(struct).fields]
        assert got == want, struct


def test_constants_match_the_python_side() -> None:
    import pymemcg

    assert lib.PMC_PAGE_SIZE == pymemcg.PAGE_SIZE == 4096
    assert lib.PMC_PAGE_SHIFT == pymemcg.PAGE_SHIFT
    assert lib.PMC_PAGE_COUNTER_MAX == pymemcg.PAGE_COUNTER_MAX == (2**63 - 1) // 4096


def test_cdef_has_no_pointers_to_core_objects() -> None:
    # Opaque handles only: the only pointers are out-parameters of plain types.
    text = re.sub(r"/\*.*?\*/", "", _build.cdef_from_header(), flags=re.S)
    for ptr in re.findall(r"([\w ]+)\*", text):
        assert ptr.split()[-1] in {"char", "uint64_t", "pmc_page_counter_info",
                                   "pmc_bench_result"}, ptr


def test_header_is_valid_c() -> None:
    # pycparser (which cffi uses) must parse the block with the stdint types.
    body = re.sub(r"/\*.*?\*/", "", _build.cdef_from_header(), flags=re.S)
    body = re.sub(r"^#define.*$", "", body, flags=re.M)
    src = ("typedef long int64_t; typedef unsigned long uint64_t; typedef int int32_t;"
           "typedef unsigned long size_t;\n" + body)
    pycparser.CParser().parse(src)
