"""pymemcg.protocols: the shared protocols list exactly the public members
of both backends' classes (mypy --strict checks the signatures: `make
typecheck`), and code typed against them runs on either."""

from __future__ import annotations

import inspect

import pytest

from pymemcg import protocols as P

# The `backend` fixture (C core and model) comes from conftest.py.


def _objects(backend):
    h = backend.Hierarchy(backend.Config.current())
    g = h.create("g")
    t = g.fork()
    s = g.sock_create()
    pc = backend.PageCounter()
    cache = h.standard_cache("dentry")
    obj = cache.alloc(g)
    replayer = h.replayer(bytearray(32))
    owned = h.cpu(0)
    owned.release()
    return {P.HierarchyLike: h, P.CgroupLike: g, P.TaskLike: t, P.SocketLike: s,
            P.PageCounterLike: pc, P.KmemCacheLike: cache, P.SlabObjectLike: obj,
            P.ReplayerLike: replayer, P.OwnedCpuLike: owned}


def test_every_public_member_is_in_a_protocol(backend):
    # The protocols list the whole public surface: a member added to one
    # backend's class and not to its protocol is caught here.
    for proto, obj in _objects(backend).items():
        public = {n for n in dir(type(obj)) if not n.startswith("_")}
        listed = {n for n in dir(proto) if not n.startswith("_")}
        assert public == listed, (proto.__name__, sorted(public ^ listed))


def fill(cg: P.CgroupLike, pages: int) -> int:
    """The module docstring's example."""
    done = 0
    while done < pages and cg.try_charge(1) is None:
        done += 1
    return done


def test_code_typed_against_the_protocols_runs_on_either(backend):
    h = backend.Hierarchy(backend.Config.current())
    g = h.create("g")
    g.set_max(10)
    assert fill(g, 50) == 10
    assert inspect.getdoc(P.CgroupLike)
