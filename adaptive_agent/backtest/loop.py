"""Which compiled copy of the backtest's loop (``kernel.py``) runs, without importing numba
when it can help it.

The loop is compiled two ways from the one source: just in time by numba (``kernel.run``,
cached on disk; importing numba and loading that cache costs a process about a second), and
ahead of time into a plain extension module (numba's ``pycc``) that imports in milliseconds and
needs neither numba nor a compiler to run. ``run()`` calls the ahead-of-time module when one
exists for these sources and these argument types, and the JIT loop otherwise; both are the
same LLVM code of the same functions and give the same numbers bit for bit (tested). A module
is built by ``build()`` (``python -m adaptive_agent.backtest.rebalance_backtester`` runs it
after the set-up; a machine without a C compiler just keeps the JIT loop).

A module's name carries a hash of the sources of every compiled rule (the kernel and the core
modules it compiles, this file included) and of the argument types it was built for, so a
changed rule or a call with other types never reaches a stale module. Modules live where
numba keeps its cache (``NUMBA_CACHE_DIR``, else ``__pycache__`` beside this file).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sysconfig
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Decision log columns (float64; integers and epoch ms are exact).
(D_BAR, D_CASH, D_SPOT, D_LONG, D_SHORT, D_LONG_ENTRY, D_SHORT_ENTRY) = range(7)
(D_LAST_REBALANCE, D_PEAK, D_LAST_BREACH, D_ORDERS, D_SIGNAL_HELD) = range(7, 12)
# ... and what decide() found there: basis, margin fraction, drawdown, condition bits, safe mode
# (1/0), the three legs' target lots and outcomes (decision.NO_CHANGE, SEND, HELD_...).
(D_BASIS, D_MARGIN_FRAC, D_DRAWDOWN, D_BITS, D_SAFE) = range(12, 17)
D_TARGETS, D_GATES = 17, 20  # 3 columns each, in LEGS order
DECISION_COLUMNS = 23
# Fill columns: fill time (open of the bar it filled in), rebalance id, leg (0 spot, 1 long,
# 2 short), raises the leg (1/0), buys (1/0), size BTC, price, maker (1/0), fee USDT.
F_TIME, F_RID, F_LEG, F_UP, F_BUY, F_SIZE, F_PRICE, F_MAKER, F_FEE = range(9)
FILL_COLUMNS = 9

_PACKAGE = Path(__file__).resolve().parents[1]
SOURCES = (  # every module whose functions the loop compiles, and the loop's own two
    "core/decision.py",
    "core/portfolio_manager.py",
    "core/liquidation_rules.py",
    "metrics.py",
    "backtest/fill_model.py",
    "backtest/kernel.py",
    "backtest/loop.py",
)


def _source_hash() -> str:
    h = hashlib.sha256()
    for rel in SOURCES:
        h.update(rel.encode() + b"\0" + (_PACKAGE / rel).read_bytes())
    return h.hexdigest()[:16]


SOURCE_HASH = _source_hash()
_SCALARS = {bool: "b", int: "i", float: "f", np.bool_: "b", np.int64: "i", np.float64: "f"}


def type_key(value) -> str | None:
    """The numba types ``value`` would be compiled for, as text; None for a type this file
    does not know (that call goes to the JIT loop, which specialises on anything)."""
    if isinstance(value, tuple):
        parts = [type_key(v) for v in value]
        return None if None in parts else "(" + ",".join(parts) + ")"  # type: ignore[arg-type]
    if isinstance(value, np.ndarray):
        layout = "C" if value.flags.c_contiguous else "A"
        return f"{value.dtype.str}{value.ndim}{layout}{'' if value.flags.writeable else 'r'}"
    return _SCALARS.get(type(value))


def cache_dir() -> Path:
    env = os.environ.get("NUMBA_CACHE_DIR")
    return Path(env) if env else Path(__file__).with_name("__pycache__")


def module_name(key: str) -> str:
    digest = hashlib.sha256(f"{key}|numpy {np.__version__}".encode()).hexdigest()[:12]
    return f"_loop_{SOURCE_HASH}_{digest}"


def module_path(key: str, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / (module_name(key) + sysconfig.get_config_var("EXT_SUFFIX"))


_loaded: dict[tuple[str, Path], Callable | None] = {}


def ahead_of_time(key: str, directory: Path | None = None) -> Callable | None:
    """The ahead-of-time loop for argument types ``key``, or None when none was built."""
    path = module_path(key, directory)
    slot = (key, path)
    if slot not in _loaded:
        fn = None
        if path.is_file():
            spec = importlib.util.spec_from_file_location(module_name(key), path)
            try:
                mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
                spec.loader.exec_module(mod)  # type: ignore[union-attr]
                fn = mod.run
            except (ImportError, OSError, AttributeError):  # pragma: no cover - a broken file
                fn = None
        _loaded[slot] = fn
    return _loaded[slot]


def _read_only(a: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(a).view()
    v.flags.writeable = False
    return v


def canonical(args: tuple) -> tuple:
    """``args`` with the bars' and the funding's arrays as C-contiguous read-only views (the
    loop only reads them): one type for every caller, whichever way its data were loaded."""
    bars, funding, *rest = args
    return (tuple(map(_read_only, bars)), tuple(map(_read_only, funding)), *rest)


def run(*args):
    """``kernel.run(*args)``: the ahead-of-time loop if built for these types, else the JIT one."""
    args = canonical(args)
    key = type_key(args)
    fn = ahead_of_time(key) if key is not None else None
    if fn is None:
        from . import kernel  # numba: only when no ahead-of-time loop serves this call

        fn = kernel.run
    return fn(*args)


def build(args: tuple, directory: Path | None = None) -> Path:
    """Compile the loop ahead of time for the types of ``args`` (a call of ``run``) into
    ``directory`` (default ``cache_dir()``) unless a module that loads is there already;
    returns the module's path. Needs numba and a C compiler; raises what they raise when either
    is missing. The module appears whole or not at all (built in a temporary folder, then
    renamed)."""
    args = canonical(args)
    key = type_key(args)
    if key is None:
        raise TypeError("the loop's arguments have a type the ahead-of-time build does not know")
    if ahead_of_time(key, directory) is not None:
        return module_path(key, directory)
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:  # say so at once, before LLVM's ~10 s of work
        raise RuntimeError(f"no C compiler ({compiler}) on PATH")
    from . import kernel

    kernel.run(*args)  # the JIT loop compiled (or loaded) for these types: its signature
    sig = next(s for s in kernel.run.nopython_signatures if _matches(s, args))
    target = module_path(key, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".loop-") as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pycc is "pending deprecation" (numba 0.57+)
            from numba.pycc import CC

            cc = CC(module_name(key))
            cc.output_dir = tmp
            cc.verbose = False
            cc.export("run", sig)(kernel.run.py_func)
            cc.compile()
        os.replace(Path(tmp) / target.name, target)
    _loaded.pop((key, target), None)
    for old in target.parent.glob("_loop_*"):  # modules of sources that are no more
        if not old.name.startswith(f"_loop_{SOURCE_HASH}_"):
            old.unlink(missing_ok=True)
    return target


def _matches(sig, args: tuple) -> bool:
    from numba import typeof

    return tuple(sig.args) == tuple(typeof(a) for a in args)
