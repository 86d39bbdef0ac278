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


def run(config):
    cupy = common.import_cupy(PEER)
    import numpy as np

    cupy.cuda.Device(int(config.get("device", 0))).use()
    kernel = common.Kernel(cupy, config["kernel"])
    warm = int(config.get("warmupChunks", 3))
    out = []
    for cell in config["cells"]:
        nbytes, n, launch = cell["chunkBytes"], cell["chunks"], cell["launch"]
        max_depth = max(cell["depths"])
        dev = [cupy.empty(nbytes, dtype=cupy.uint8) for _ in range(max_depth)]
        pinned_mem = [cupy.cuda.alloc_pinned_memory(nbytes) for _ in range(max_depth)]
        host = [np.frombuffer(m, dtype=np.uint8, count=nbytes) for m in pinned_mem]
        compute = cupy.cuda.Stream(non_blocking=True)
        copy = cupy.cuda.Stream(non_blocking=True)

        def d2h(i, stream):
            cupy.cuda.runtime.memcpyAsync(host[i].ctypes.data, dev[i].data.ptr, nbytes,
                                          cupy.cuda.runtime.memcpyDeviceToHost, stream.ptr)

        # Stage alone: all kernels back to back; all copies back to back (pinned, one stream).
        with compute:
            for k in range(warm):
                kernel.launch(launch, dev[0].data.ptr, k)
        compute.synchronize()
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record(compute)
        with compute:
            for k in range(n):
                kernel.launch(launch, dev[k % max_depth].data.ptr, k)
        end.record(compute)
        end.synchronize()
        compute_ms = cupy.cuda.get_elapsed_time(start, end)
        for k in range(warm):
            d2h(0, copy)
        copy.synchronize()
        start.record(copy)
        for k in range(n):
            d2h(k % max_depth, copy)
        end.record(copy)
        end.synchronize()
        copy_ms = cupy.cuda.get_elapsed_time(start, end)

        for depth in cell["depths"]:
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
                    kernel.launch(launch, dev[i].data.ptr, k)
                done_compute[i].record(compute)
                free.acquire()  # barrier 3: the host released host[i]
                copy.wait_event(done_compute[i])  # barrier 2
                d2h(i, copy)
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
            wall = common.ms_since(t0)
            out.append(common.result(cell, depth, wall, compute_ms, copy_ms))
            common.log("%s %s depth %d: %.2f ms, efficiency %.4f" % (PEER, cell["key"], depth, wall, out[-1]["efficiency"] or 0))
        del dev, host, pinned_mem
        cupy.get_default_memory_pool().free_all_blocks()
    return out


if __name__ == "__main__":
    common.main(PEER, run)
