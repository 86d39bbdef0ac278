"""Shared plumbing of the peers `tandem bench --peers` runs: the config tandem writes, the same
CUDA kernel source launched through CuPy's RawKernel, stage-alone timing, and the one JSON line
each peer prints on stdout. Progress goes to stderr.

Config (JSON, path in argv[1]):
  {"device": 0, "warmupChunks": 3,
   "kernel": {"source": "...", "name": "...", "options": ["-D..."]},
   "cells": [{"key": "...", "chunkBytes": N, "chunks": N, "depths": [2, 3],
              "launch": {"grid": [x,y,z], "block": [x,y,z], "sharedMemBytes": 0,
                         "args": [{"kind": "output"} | {"kind": "index", "type": "u32", "offset": 0}
                                  | {"kind": "const", "type": "u64", "value": "123"}]}}]}
Output (one JSON object on stdout):
  {"peer": name, "status": "ok", "cells": [{"key", "depth", "wallMs", "computeAloneMs",
   "copyAloneMs", "efficiency", "bytes"}]}   or   {"peer": name, "status": "skipped", "reason": ...}
"""
import json
import sys
import time

SKIP_EXIT = 3


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def skip(peer, reason):
    emit({"peer": peer, "status": "skipped", "reason": reason})
    sys.exit(SKIP_EXIT)


def load_config():
    if len(sys.argv) < 2:
        print("usage: python3 %s CONFIG.json (written by tandem bench --peers)" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        return json.load(f)


def import_cupy(peer):
    try:
        import cupy  # noqa: F401
        import numpy  # noqa: F401
    except Exception as e:  # ImportError, or a CUDA mismatch raised at import
        skip(peer, "CuPy is needed to launch the same kernel source (pip install cupy-cuda13x): %s" % e)
    return cupy


def import_torch(peer):
    try:
        import torch
    except Exception as e:
        skip(peer, "PyTorch not importable (pip install torch): %s" % e)
    if not torch.cuda.is_available():
        skip(peer, "torch.cuda.is_available() is False")
    return torch


_NP_TYPES = None


def _np_types():
    global _NP_TYPES
    if _NP_TYPES is None:
        import numpy as np
        _NP_TYPES = {"pointer": np.uint64, "u32": np.uint32, "i32": np.int32, "u64": np.uint64,
                     "i64": np.int64, "f32": np.float32, "f64": np.float64}
    return _NP_TYPES


class Kernel:
    """The workload's kernel, compiled by CuPy's NVRTC from the very source tandem compiled."""

    def __init__(self, cupy, spec):
        opts = tuple(o for o in spec.get("options", []) if not o.startswith(("-arch", "--gpu-architecture")))
        self.cupy = cupy
        self.raw = cupy.RawKernel(spec["source"], spec["name"], options=opts)

    def launch(self, launch, out_ptr, index):
        """Enqueues the kernel for chunk `index` writing `out_ptr`, on CuPy's current stream."""
        types = _np_types()
        args = []
        for a in launch["args"]:
            kind = a["kind"]
            if kind == "output":
                args.append(types["pointer"](out_ptr))
            elif kind == "index":
                args.append(types[a["type"]](index + int(a.get("offset", 0))))
            elif kind == "const":
                v = a["value"]
                args.append(types[a["type"]](float(v) if a["type"] in ("f32", "f64") else int(v)))
            else:
                raise ValueError("unknown argument kind %r" % kind)
        self.raw(tuple(launch["grid"]), tuple(launch["block"]), tuple(args), shared_mem=int(launch.get("sharedMemBytes", 0)))


def ms_since(t0):
    return (time.perf_counter() - t0) * 1000.0


def efficiency(wall_ms, compute_ms, copy_ms):
    alone = [v for v in (compute_ms, copy_ms) if v is not None and v > 0]
    if not alone or wall_ms <= 0:
        return None
    return max(alone) / wall_ms


def result(cell, depth, wall_ms, compute_ms, copy_ms):
    return {"key": cell["key"], "depth": depth, "wallMs": wall_ms, "computeAloneMs": compute_ms,
            "copyAloneMs": copy_ms, "efficiency": efficiency(wall_ms, compute_ms, copy_ms),
            "bytes": cell["chunkBytes"] * cell["chunks"]}


def main(peer, run):
    """Runs `run(config)` (a list of result dicts) and prints the peer's JSON, or a failure."""
    config = load_config()
    try:
        cells = run(config)
    except SystemExit:
        raise
    except Exception as e:  # a CUDA error, out of memory...: report it, tandem prints it as failed
        emit({"peer": peer, "status": "failed", "reason": "%s: %s" % (type(e).__name__, e)})
        sys.exit(1)
    emit({"peer": peer, "status": "ok", "cells": cells})
