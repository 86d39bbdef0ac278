"""Jobs peer, PyTorch: each job takes its ring from PyTorch's caching allocators (torch.empty on
the device, torch.empty(pin_memory=True) from the caching host allocator), makes its streams
(torch's stream pool) and events, and drops all of it at the end. The kernel is launched through
CuPy on the torch streams (torch_common.py). See jobs_common.py."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import jobs_common  # noqa: E402
from torch_common import TorchKernel  # noqa: E402

PEER = "torch-jobs"


def run(config):
    tk = TorchKernel(PEER, int(config.get("device", 0)))
    torch = tk.torch
    common.freeze_imports()

    def make_job(kernel_spec, cell):
        kernel = tk.kernels.get(kernel_spec)
        nbytes, n, depth, launch = cell["chunkBytes"], cell["chunks"], cell["depth"], cell["launch"]
        warm = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
        s = torch.cuda.Stream()
        tk.launch(kernel, s, launch, warm, 0)
        torch.cuda.synchronize()
        del warm

        def job():
            t0 = time.perf_counter()
            compute = torch.cuda.Stream()
            copy = torch.cuda.Stream()
            dev = [torch.empty(nbytes, dtype=torch.uint8, device="cuda") for _ in range(depth)]
            host = [torch.empty(nbytes, dtype=torch.uint8, pin_memory=True) for _ in range(depth)]
            done_compute = [torch.cuda.Event() for _ in range(depth)]
            done_copy = [torch.cuda.Event() for _ in range(depth)]
            for k in range(n):
                i = k % depth
                if k >= depth:
                    compute.wait_event(done_copy[i])  # barrier 1
                tk.launch(kernel, compute, launch, dev[i], k)
                done_compute[i].record(compute)
                if k >= depth:
                    done_copy[i].synchronize()  # barriers 3, 4
                with torch.cuda.stream(copy):
                    copy.wait_event(done_compute[i])  # barrier 2
                    host[i].copy_(dev[i], non_blocking=True)
                    done_copy[i].record(copy)
            for e in done_copy[-min(depth, n):]:
                e.synchronize()
            wall = jobs_common.ms_since(t0)
            # Tensors used on a side stream go back to the device pool only once that stream's
            # work is done, as torch's record_stream would order; here every copy has completed.
            del dev, host
            return wall

        return job

    return jobs_common.run_jobs(PEER, config, make_job)


if __name__ == "__main__":
    common.main(PEER, run)
