"""Jobs peer, CuPy: each job takes its ring from CuPy's MemoryPool (cupy.empty) and
PinnedMemoryPool (cupy.cuda.alloc_pinned_memory), makes its streams and events, and drops all of
it at the end (the buffers go back to the pools). See jobs_common.py."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import jobs_common  # noqa: E402

PEER = "cupy-jobs"


def run(config):
    cupy = common.import_cupy(PEER)
    import numpy as np

    cupy.cuda.Device(int(config.get("device", 0))).use()
    kernels = common.KernelCache(cupy)
    common.freeze_imports()
    rt = cupy.cuda.runtime

    def make_job(kernel_spec, cell):
        kernel = kernels.get(kernel_spec)
        nbytes, n, depth, launch = cell["chunkBytes"], cell["chunks"], cell["depth"], cell["launch"]
        # The kernel's first launches (module load) off the timed jobs.
        warm = cupy.empty(nbytes, dtype=cupy.uint8)
        kernel.launch(launch, warm.data.ptr, 0)
        cupy.cuda.Device().synchronize()
        del warm

        def job():
            t0 = time.perf_counter()
            compute = cupy.cuda.Stream(non_blocking=True)
            copy = cupy.cuda.Stream(non_blocking=True)
            dev = [cupy.empty(nbytes, dtype=cupy.uint8) for _ in range(depth)]
            pinned = [cupy.cuda.alloc_pinned_memory(nbytes) for _ in range(depth)]
            host = [np.frombuffer(m, dtype=np.uint8, count=nbytes) for m in pinned]
            done_compute = [cupy.cuda.Event(disable_timing=True) for _ in range(depth)]
            done_copy = [cupy.cuda.Event(disable_timing=True) for _ in range(depth)]
            for k in range(n):
                i = k % depth
                if k >= depth:
                    compute.wait_event(done_copy[i])  # barrier 1
                with compute:
                    kernel.launch(launch, dev[i].data.ptr, k)
                done_compute[i].record(compute)
                if k >= depth:
                    done_copy[i].synchronize()  # barriers 3, 4: the host is done with host[i]
                copy.wait_event(done_compute[i])  # barrier 2
                rt.memcpyAsync(host[i].ctypes.data, dev[i].data.ptr, nbytes, rt.memcpyDeviceToHost, copy.ptr)
                done_copy[i].record(copy)
            for e in done_copy[-min(depth, n):]:
                e.synchronize()
            wall = jobs_common.ms_since(t0)
            del dev, pinned, host
            return wall

        return job

    return jobs_common.run_jobs(PEER, config, make_job)


if __name__ == "__main__":
    common.main(PEER, run)
