"""Type stub of ``pymemcg._core``, the extension that CFFI compiles from
csrc/ (pymemcg/_build.py).  Its ``lib`` and most of its ``ffi`` are made at
build time from the C declarations, which a type checker cannot read: they
are Any, except ``ffi.def_extern``, typed so that the callbacks it
registers keep their signatures."""

from typing import Any, Callable, Optional, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

class _FFI:
    def def_extern(
        self,
        name: str = ...,
        error: Any = ...,
        onerror: Optional[Callable[[Any, BaseException, Any], Any]] = ...,
    ) -> Callable[[_F], _F]: ...
    def __getattr__(self, name: str) -> Any: ...

ffi: _FFI
lib: Any
