"""The jobs peers (`tandem bench --jobs`): many short jobs, each allocating its ring the way the
library's users do (from the library's pools) and dropping it at the end, as a service handling
one request per job would. One job: `depth` device buffers and pinned host buffers, a compute and
a copy stream, events both ways; compute(k) waits for the D2H that last read its device buffer
(barrier 1), D2H(k) waits for compute(k) (barrier 2) and for the host to be done with its pinned
buffer (barriers 3, 4: the host stage does nothing, as in tandem's bench). The job's wall runs
from the first allocation to the host seeing the last D2H complete. After a cell's steady jobs,
afterIdle["jobs"] more, each after the host slept afterIdle["ms"] (the GPU idle meanwhile).

Config (JSON, path in argv[1]): {"device": 0, "kernel": {...}, "afterIdle": {"ms", "jobs"},
  "cells": [{"key", "chunkBytes", "chunks", "depth", "jobs", "launch": {...}}]}
Output (one JSON line): {"peer": name, "status": "ok", "cells": [{"key", "depth", "firstMs",
  "jobMs": [the steady jobs' walls, in job order], "afterIdleMs": [the walls after idle time]}]}   or   {"peer": name, "status": "skipped" | "failed", "reason": ...}
"""
import gc
import time

import common


def run_jobs(peer, config, make_job):
    """For each cell: one first job (the pools empty for this size), then `jobs` more, then the
    jobs after idle time."""
    idle = config["afterIdle"]
    out = []
    for cell in config["cells"]:
        job = make_job(config["kernel"], cell)
        gc.collect()
        first = job()
        walls = [job() for _ in range(int(cell["jobs"]))]  # in job order
        after_idle = []
        for _ in range(int(idle["jobs"])):
            time.sleep(idle["ms"] / 1000.0)
            after_idle.append(job())
        median = sorted(walls)[len(walls) // 2]
        common.log("%s %s depth %d: first %.2f ms, median %.2f ms" % (peer, cell["key"], cell["depth"], first, median))
        out.append({"key": cell["key"], "depth": cell["depth"], "firstMs": first, "jobMs": walls, "afterIdleMs": after_idle})
    return out


def ms_since(t0):
    return (time.perf_counter() - t0) * 1000.0
