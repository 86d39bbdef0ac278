"""Peer: PyTorch's usual habit. One (default) stream, and `out.cpu()` for every chunk: a
synchronous copy into freshly allocated pageable memory, so the GPU idles while the host copies
and the host idles while the GPU computes. No depth: it is reported once per cell.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from torch_common import TorchKernel  # noqa: E402

PEER = "torch-habit"


def run(config):
    tk = TorchKernel(PEER, config)
    torch = tk.torch
    warm = int(config.get("warmupChunks", 3))
    out = []
    for cell in config["cells"]:
        nbytes, n, launch = cell["chunkBytes"], cell["chunks"], cell["launch"]
        dev = [torch.empty(nbytes, dtype=torch.uint8, device="cuda")]
        pinned = [torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)]
        compute_ms, copy_ms = tk.alone(cell, dev, pinned, warm)
        stream = torch.cuda.current_stream()
        for k in range(warm):
            tk.launch(stream, launch, dev[0], k)
            dev[0].cpu()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for k in range(n):
            tk.launch(stream, launch, dev[0], k)
            host = dev[0].cpu()  # the habit: blocks until the kernel and the copy are done
            del host
        torch.cuda.synchronize()
        wall = common.ms_since(t0)
        out.append(common.result(cell, None, wall, compute_ms, copy_ms))
        common.log("%s %s: %.2f ms, efficiency %.4f" % (PEER, cell["key"], wall, out[-1]["efficiency"] or 0))
        del dev, pinned
        torch.cuda.empty_cache()
    return out


if __name__ == "__main__":
    common.main(PEER, run)
