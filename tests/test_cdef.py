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


def _header_functions() -> dict[str, str]:
    # cffi's parser is the reference for what the header declares (its
    # _declarations table is internal, but it is what ffi.cdef() builds).
    decls = _header_ffi()._parser._declarations  # type: ignore[attr-defined]
    out = {}
    for key, (model, _quals) in decls.items():
        if key.startswith("function "):
            # The compiled module drops "const" and spells "(void)" as "()".
            cname = model.get_c_name().replace(" const *", " *").replace("(void)", "()")
            out[key.split(" ", 1)[1]] = cname
    return out


def test_every_header_function_is_compiled_with_the_same_type() -> None:
    declared = _header_functions()
    assert len(declared) >= 40
    for name, cname in declared.items():
        assert ffi.typeof(getattr(lib, name)).cname == cname, name


def test_the_binding_adds_only_the_reclaim_callback() -> None:
    # Everything the module exposes beyond the header is BINDING_CDEF.
    declared = set(_header_functions())
    compiled = {n for n in dir(lib) if n.startswith("pmc_")
                and ffi.typeof(getattr(lib, n)).kind == "function"}
    assert compiled - declared == {"pmc_py_reclaim"}
    assert declared <= compiled


STRUCTS = ("struct pmc_page_counter_info", "struct pmc_bench_result", "struct pmc_config",
           "struct pmc_cgroup_info", "struct pmc_op", "struct pmc_sock_info")


def test_structs_match() -> None:
    header = _header_ffi()
    for struct in STRUCTS:
        assert ffi.sizeof(struct) == header.sizeof(struct)
        got = [(n, f.type.cname, f.offset) for n, f in ffi.typeof(struct).fields]
        want = [(n, f.type.cname, f.offset) for n, f in header.typeof(struct).fields]
        assert got == want, struct


def test_constants_match_the_python_side() -> None:
    import pymemcg
    from pymemcg import gfp, hierarchy

    assert lib.PMC_PAGE_SIZE == pymemcg.PAGE_SIZE == 4096
    assert lib.PMC_PAGE_SHIFT == pymemcg.PAGE_SHIFT
    assert lib.PMC_PAGE_COUNTER_MAX == pymemcg.PAGE_COUNTER_MAX == (2**63 - 1) // 4096
    for name in ("DIRECT_RECLAIM", "KSWAPD_RECLAIM", "NORETRY", "RETRY_MAYFAIL", "NOFAIL",
                 "HIGH", "ACCOUNT"):
        assert getattr(lib, f"PMC_GFP_{name}") == getattr(gfp, f"GFP_{name}"), name
    for i, name in enumerate(hierarchy.EVENTS):
        assert getattr(lib, f"PMC_EVENT_{name.upper()}") == i
    assert lib.PMC_NR_EVENTS == len(hierarchy.EVENTS)
    for i, name in enumerate(hierarchy.STATS):
        assert getattr(lib, f"PMC_STAT_{name.upper()}") == i


def test_cdef_has_no_pointers_to_core_objects() -> None:
    # Opaque handles only: pointers are out-parameters of plain types, the
    # config struct, and the binding's callback.
    text = re.sub(r"/\*.*?\*/", "", _build.cdef_from_header(), flags=re.S)
    allowed = {"char", "uint8_t", "uint64_t", "int64_t", "pmc_page_counter_info", "pmc_bench_result",
               "pmc_config", "pmc_cgroup_info", "pmc_op", "pmc_cgroup_entry", "pmc_cgroup_list", "pmc_task_info",
               "pmc_sock_info", "pmc_kmem_cache_info", "pmc_slab_object_info", "pmc_slab_pinning",
               "pmc_obj_stock_info", "void", "(", "(*callback"}
    for ptr in re.findall(r"([\w (]+)\*", text):
        assert ptr.split()[-1] in allowed, ptr


def test_header_is_valid_c() -> None:
    # pycparser (which cffi uses) must parse the block with the stdint types.
    body = re.sub(r"/\*.*?\*/", "", _build.cdef_from_header(), flags=re.S)
    body = re.sub(r"^#define.*$", "", body, flags=re.M)
    src = ("typedef long int64_t; typedef unsigned long uint64_t; typedef int int32_t;"
           "typedef unsigned int uint32_t; typedef unsigned char uint8_t;"
           "typedef unsigned long size_t;\n" + body)
    pycparser.CParser().parse(src)


def test_op_dtype_matches_struct_pmc_op() -> None:
    from pymemcg import replay

    fields = [(n, f.offset) for n, f in ffi.typeof("struct pmc_op").fields]
    assert ffi.sizeof("struct pmc_op") == replay.OP_SIZE
    if replay.OP_DTYPE is not None:
        assert fields == [(n, replay.OP_DTYPE.fields[n][1]) for n in replay.OP_DTYPE.names]
    for name in ("CHARGE", "UNCHARGE", "DRAIN", "DRAIN_ALL"):
        assert getattr(lib, f"PMC_OP_{name}") == getattr(replay, f"OP_{name}")
    assert lib.PMC_RESULT_UNDERFLOW == replay.RESULT_UNDERFLOW


def test_config_kmem_accounting_reaches_the_c_struct() -> None:
    from pymemcg.config import Config
    from pymemcg.hierarchy import _config_struct

    for name, value in (("whitelist", lib.PMC_KMEM_ACCOUNTING_WHITELIST),
                        ("blacklist", lib.PMC_KMEM_ACCOUNTING_BLACKLIST)):
        assert _config_struct(Config.current(kmem_accounting=name)).kmem_accounting == value
    assert _config_struct(Config.linux_3_8()).kmem_accounting == lib.PMC_KMEM_ACCOUNTING_BLACKLIST
    # A value the Python side never sends is refused by the core.
    bad = _config_struct(Config.current())
    bad.kmem_accounting = 2
    assert lib.pmc_hierarchy_new(bad) == -22
