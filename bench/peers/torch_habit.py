"""Peer: PyTorch's usual habit. One (default) stream, and `out.cpu()` for every chunk: a
synchronous copy into freshly allocated pageable memory, so the GPU idles while the host copies
and the host idles while the GPU computes. No depth: it is reported once per cell.
With "habitMaxBytes" in the config it runs at most that many bytes' worth of a cell's chunks
(at least 8) and scales its wall to the cell's chunk count: each chunk costs the same (no ring,
no overlap, nothing carried between chunks), and at 64 MiB the habit is ~45x slower than a
pipeline, so full cells would make it most of `tandem bench`'s minute.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from torch_common import TorchKernel  # noqa: E402

PEER = "torch-habit"


def run(config, tk=None):
    if tk is None:
        tk = TorchKernel(PEER, int(config.get("device", 0)))
        common.freeze_imports()
    kernel = tk.kernels.get(config["kernel"])
    torch = tk.torch
    warm = int(config.get("warmupChunks", 3))
    out = []
    for cell in config["cells"]:
        nbytes, n, launch = cell["chunkBytes"], cell["chunks"], cell["launch"]
        dev = [torch.empty(nbytes, dtype=torch.uint8, device="cuda")]
        pinned = [torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)]
        # tandem bench sends "alone": false (it divides by its own stages alone of the cell, ~2 s
        # less a default run); a config run by hand times them here.
        compute_ms, copy_ms = tk.alone(kernel, cell, dev, pinned, warm) if config.get("alone", True) else (None, None)
        stream = torch.cuda.current_stream()
        for k in range(warm):
            tk.launch(kernel, stream, launch, dev[0], k)
            dev[0].cpu()
        torch.cuda.synchronize()
        cap = config.get("habitMaxBytes")
        m = n if not cap else min(n, max(8, int(cap) // nbytes))
        t0 = time.perf_counter()
        for k in range(m):
            tk.launch(kernel, stream, launch, dev[0], k)
            host = dev[0].cpu()  # the habit: blocks until the kernel and the copy are done
            del host
        torch.cuda.synchronize()
        wall = common.ms_since(t0) * n / m
        out.append(dict(common.result(cell, None, wall, compute_ms, copy_ms), chunksRun=m))
        common.log("%s %s: %.2f ms%s%s" % (PEER, cell["key"], wall, common.efficiency_text(out[-1]["efficiency"]),
                                                    "" if m == n else " (%d of %d chunks run, wall scaled)" % (m, n)))
        del dev, pinned
        torch.cuda.empty_cache()
    return out


if __name__ == "__main__":
    # --serve DEVICE: import and initialise first (tandem bench starts this beside the stream
    # peers, before its sweep), then run the config read as one line on stdin.
    common.main_or_serve_once(PEER, lambda device: TorchKernel(PEER, device), run)
