"""Peer: CuPy with two streams, the way a CuPy user writes the overlap: a compute stream and a
copy stream, `depth` device buffers and pinned host buffers, events both ways, and the host
releasing each pinned buffer before it is reused (all of DESIGN.md's barriers 1-4). The host
stage does nothing but release, as in tandem's bench (no sink).
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PEER = "cupy-streams"


class Ctx:
    def __init__(self, device):
        self.cupy = common.import_cupy(PEER)
        import numpy as np

        self.np = np
        self.cupy.cuda.Device(device).use()
        self.kernels = common.KernelCache(self.cupy)


class CupyCell:
    """One cell's buffers (grown to the deepest ring asked for), its stages timed alone."""

    def __init__(self, ctx, kernel_spec, cell, warm, alone):
        self.cupy, self.np = ctx.cupy, ctx.np
        self.kernel = ctx.kernels.get(kernel_spec)
        self.nbytes, self.n, self.launch = cell["chunkBytes"], cell["chunks"], cell["launch"]
        self.dev, self.pinned_mem, self.host = [], [], []
        self.compute = self.cupy.cuda.Stream(non_blocking=True)
        self.copy = self.cupy.cuda.Stream(non_blocking=True)
        self.ensure(max(cell.get("depths") or [2]))
        self.compute_ms, self.copy_ms = self.alone(warm) if alone else self.warm(warm)

    def ensure(self, depth):
        cupy, np = self.cupy, self.np
        while len(self.dev) < depth:
            self.dev.append(cupy.empty(self.nbytes, dtype=cupy.uint8))
            m = cupy.cuda.alloc_pinned_memory(self.nbytes)
            self.pinned_mem.append(m)
            self.host.append(np.frombuffer(m, dtype=np.uint8, count=self.nbytes))

    def d2h(self, i, stream):
        self.cupy.cuda.runtime.memcpyAsync(self.host[i].ctypes.data, self.dev[i].data.ptr, self.nbytes,
                                           self.cupy.cuda.runtime.memcpyDeviceToHost, stream.ptr)

    def warm(self, warm):
        """The first launches and copies (module load, first-use costs) off the timed runs."""
        with self.compute:
            for k in range(warm):
                self.kernel.launch(self.launch, self.dev[0].data.ptr, k)
        self.compute.synchronize()
        for k in range(warm):
            self.d2h(0, self.copy)
        self.copy.synchronize()
        return None, None

    def alone(self, warm):
        # Stage alone: all kernels back to back; all copies back to back (pinned, one stream).
        cupy, compute, copy, n, k_n = self.cupy, self.compute, self.copy, self.n, len(self.dev)
        with compute:
            for k in range(warm):
                self.kernel.launch(self.launch, self.dev[0].data.ptr, k)
        compute.synchronize()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record(compute)
        with compute:
            for k in range(n):
                self.kernel.launch(self.launch, self.dev[k % k_n].data.ptr, k)
        end.record(compute)
        end.synchronize()
        compute_ms = cupy.cuda.get_elapsed_time(start, end)
        for k in range(warm):
            self.d2h(0, copy)
        copy.synchronize()
        start.record(copy)
        for k in range(n):
            self.d2h(k % k_n, copy)
        end.record(copy)
        end.synchronize()
        return compute_ms, cupy.cuda.get_elapsed_time(start, end)

    def run(self, depth):
        cupy, compute, copy, n, launch = self.cupy, self.compute, self.copy, self.n, self.launch
        self.ensure(depth)
        done_compute = [cupy.cuda.Event(disable_timing=True) for _ in range(depth)]
        done_copy = [cupy.cuda.Event(disable_timing=True) for _ in range(depth)]
        free = threading.Semaphore(depth)
        pending = []
        cv = threading.Condition()
        stop = [False]

        def host_stage():
            # Waits for each D2H, "consumes" the pinned buffer, releases the slot (barrier 4, 3).
            while True:
                with cv:
                    while not pending and not stop[0]:
                        cv.wait()
                    if not pending:
                        return
                    i = pending.pop(0)
                done_copy[i].synchronize()
                free.release()

        worker = threading.Thread(target=host_stage, daemon=True)
        worker.start()
        t0 = time.perf_counter()
        for k in range(n):
            i = k % depth
            if k >= depth:
                compute.wait_event(done_copy[i])  # barrier 1: D2H(k - depth) has read dev[i]
            with compute:
                self.kernel.launch(launch, self.dev[i].data.ptr, k)
            done_compute[i].record(compute)
            free.acquire()  # barrier 3: the host released host[i]
            copy.wait_event(done_compute[i])  # barrier 2
            self.d2h(i, copy)
            done_copy[i].record(copy)
            with cv:
                pending.append(i)
                cv.notify()
        with cv:
            stop[0] = True
            cv.notify()
        worker.join()
        copy.synchronize()
        compute.synchronize()
        return common.ms_since(t0)

    def close(self):
        self.dev, self.host, self.pinned_mem = [], [], []
        self.cupy.get_default_memory_pool().free_all_blocks()


if __name__ == "__main__":
    common.run_stream_peer(PEER, Ctx, CupyCell)
