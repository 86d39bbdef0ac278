"""Shared plumbing of the peers `tandem bench --peers` runs: the config tandem writes, the same
CUDA kernel source launched through CuPy's RawKernel, stage-alone timing, and the one JSON line
each peer prints on stdout. Progress goes to stderr.

Config (JSON, path in argv[1]):
  {"device": 0, "warmupChunks": 3,
   "kernel": {"source": "...", "name": "...", "options": ["-D..."]},
   "alone": true,   (optional, default true: time each cell's stages alone for the efficiency;
                    false skips that and reports efficiency null, tandem then divides by its own)
   "cells": [{"key": "...", "chunkBytes": N, "chunks": N, "depths": [2, 3],
              "launch": {"grid": [x,y,z], "block": [x,y,z], "sharedMemBytes": 0,
                         "args": [{"kind": "output"} | {"kind": "index", "type": "u32", "offset": 0}
                                  | {"kind": "const", "type": "u64", "value": "123"}]}}]}
Output (one JSON object on stdout):
  {"peer": name, "status": "ok", "cells": [{"key", "depth", "wallMs", "computeAloneMs",
   "copyAloneMs", "efficiency", "bytes"}]}   or   {"peer": name, "status": "skipped", "reason": ...}

Serve mode (`python3 PEER.py --serve DEVICE`, the stream peers; how `tandem bench` interleaves
them with its own runs, cell by cell): after its imports the peer prints {"peer": name, "ready":
true} (or the skipped object above, and exits 3), then answers one JSON line per JSON line read:
  {"op": "cell", "kernel": {...}, "cell": {...}, "warmupChunks": 3, "alone": true}
      -> {"ok": true, "computeAloneMs": ..., "copyAloneMs": ...}   (buffers made, warmed up, and
         with "alone" the stages timed alone; without it both are null)
  {"op": "run", "depth": 3}  -> {"ok": true, "wallMs": ...}         (one run of the prepared cell)
  any failure                -> {"ok": false, "error": "..."}
It exits at the end of its input.
torch-habit's serve mode is one batch: after "ready" it reads one config line and answers with
the batch output above.
"""
import gc
import json
import statistics
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


def efficiency_text(value):
    """', efficiency 0.9912' for a progress line, or nothing where the stages were not timed here."""
    return "" if value is None else ", efficiency %.4f" % value


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


class KernelCache:
    """Kernels compiled once per (source, name, options): a serving peer gets the spec per cell."""

    def __init__(self, cupy):
        self.cupy = cupy
        self._kernels = {}

    def get(self, spec):
        key = json.dumps(spec, sort_keys=True)
        k = self._kernels.get(key)
        if k is None:
            k = self._kernels[key] = Kernel(self.cupy, spec)
        return k


def freeze_imports():
    """After the imports and the CUDA set-up: every object alive now moves out of the collector's
    generations (gc.freeze), so the full collection before each measured run does not walk them
    again. With torch and CuPy imported that is ~176,000 objects: each gc.collect() took 75-81 ms
    on the H100 host, 0.0 ms once frozen (outside the timed region, but ~4 s of a default
    `tandem bench`). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


def collected_run(pc, depth):
    """One measured run, after a full collection (as tandem's process runs one before each)."""
    gc.collect()
    return pc.run(depth)


def run_stream_peer(peer, setup, prepare):
    """The entry point of a stream peer (one that runs at a ring depth).

    setup(device) -> ctx: the imports (skip() when missing), the device made current.
    prepare(ctx, kernel_spec, cell, warm, alone) -> an object with compute_ms, copy_ms (the
    stages timed alone when `alone`, else None after a warm-up), run(depth) -> wall ms of one
    run of the cell, and close().
    Batch (CONFIG.json): every cell at each of its depths, one result line. Serve: see above.
    """
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve":
        serve(peer, setup, prepare, int(sys.argv[2]) if len(sys.argv) >= 3 else 0)
        return

    def batch(config):
        ctx = setup(int(config.get("device", 0)))
        freeze_imports()
        warm = int(config.get("warmupChunks", 3))
        repeats = max(1, int(config.get("repeats", 1)))
        out = []
        for cell in config["cells"]:
            pc = prepare(ctx, config["kernel"], cell, warm, bool(config.get("alone", True)))
            try:
                for depth in cell["depths"]:
                    wall = statistics.median(collected_run(pc, depth) for _ in range(repeats))
                    out.append(result(cell, depth, wall, pc.compute_ms, pc.copy_ms))
                    log("%s %s depth %d: %.2f ms%s" % (peer, cell["key"], depth, wall, efficiency_text(out[-1]["efficiency"])))
            finally:
                pc.close()
        return out

    main(peer, batch)


def main_or_serve_once(peer, setup, run):
    """Batch (CONFIG.json), or --serve DEVICE: setup(device) first, say ready, then run(config,
    ctx) on the one config line read from stdin and print the batch output."""
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve":
        ctx = setup(int(sys.argv[2]) if len(sys.argv) >= 3 else 0)
        freeze_imports()
        emit({"peer": peer, "ready": True})
        line = sys.stdin.readline()
        if not line.strip():
            return
        try:
            cells = run(json.loads(line), ctx)
        except Exception as e:  # noqa: BLE001 - reported as the peer's failure
            emit({"peer": peer, "status": "failed", "reason": "%s: %s" % (type(e).__name__, e)})
            sys.exit(1)
        emit({"peer": peer, "status": "ok", "cells": cells})
        return
    main(peer, run)


def serve(peer, setup, prepare, device):
    ctx = setup(device)
    freeze_imports()
    emit({"peer": peer, "ready": True})
    pc = None
    key = None
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
                op = msg.get("op")
                if op == "cell":
                    if pc is not None:
                        pc.close()
                        pc = None
                    cell = msg["cell"]
                    key = cell["key"]
                    pc = prepare(ctx, msg["kernel"], cell, int(msg.get("warmupChunks", 3)), bool(msg.get("alone", True)))
                    emit({"ok": True, "computeAloneMs": pc.compute_ms, "copyAloneMs": pc.copy_ms})
                elif op == "run":
                    if pc is None:
                        raise ValueError("'run' before any 'cell'")
                    depth = int(msg["depth"])
                    wall = collected_run(pc, depth)
                    log("%s %s depth %d: %.2f ms%s" % (peer, key, depth, wall, efficiency_text(efficiency(wall, pc.compute_ms, pc.copy_ms))))
                    emit({"ok": True, "wallMs": wall})
                else:
                    raise ValueError("unknown op %r" % (op,))
            except Exception as e:  # a CUDA error, out of memory, a bad line: say so, keep serving
                emit({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    finally:
        if pc is not None:
            pc.close()
