"""Peer: the PyTorch dual-stream sketch of reference/dual-cuda-stream-overlap.txt as written
(default stream computes, a torch.cuda.Stream copies, done_decode / done_d2h events, a worker
thread waiting on done_d2h before it uses host_buf[i]) with the two barriers it leaves out added,
so it is correct: compute(n) waits for the D2H of n - depth (VRAM write-after-read), and the D2H
into host_buf[i] is enqueued only after the worker released it (host write-after-read).
Generalised from two buffers to `depth`.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from torch_common import TorchKernel  # noqa: E402

PEER = "torch-sketch"


class SketchCell:
    """One cell's buffers (grown to the deepest ring asked for), its stages timed alone."""

    def __init__(self, tk, kernel_spec, cell, warm, alone):
        self.tk, self.torch = tk, tk.torch
        self.kernel = tk.kernels.get(kernel_spec)
        self.nbytes, self.n, self.launch = cell["chunkBytes"], cell["chunks"], cell["launch"]
        self.vram_buf, self.host_buf = [], []
        self.ensure(max(cell.get("depths") or [2]))
        if alone:
            self.compute_ms, self.copy_ms = tk.alone(self.kernel, cell, self.vram_buf, self.host_buf, warm)
        else:
            self.compute_ms, self.copy_ms = tk.warm(self.kernel, cell, self.vram_buf, self.host_buf, warm)

    def ensure(self, depth):
        torch = self.torch
        while len(self.vram_buf) < depth:
            self.vram_buf.append(torch.empty(self.nbytes, dtype=torch.uint8, device="cuda"))
            self.host_buf.append(torch.empty(self.nbytes, dtype=torch.uint8, pin_memory=True))

    def run(self, depth):
        tk, torch, n, launch = self.tk, self.torch, self.n, self.launch
        self.ensure(depth)
        vram_buf, host_buf = self.vram_buf, self.host_buf
        compute_stream = torch.cuda.default_stream()
        copy_stream = torch.cuda.Stream()
        done_decode = [torch.cuda.Event() for _ in range(depth)]
        done_d2h = [torch.cuda.Event() for _ in range(depth)]
        released = threading.Semaphore(depth)
        queue = []
        cv = threading.Condition()
        finished = [False]

        def worker():
            # "worker thread waits on done_d2h[i] before writing host_buf[i] to disk" (here the
            # write is a no-op, as tandem's bench has no sink), then releases the buffer.
            while True:
                with cv:
                    while not queue and not finished[0]:
                        cv.wait()
                    if not queue:
                        return
                    i = queue.pop(0)
                done_d2h[i].synchronize()
                released.release()

        th = threading.Thread(target=worker, daemon=True)
        th.start()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for k in range(n):
            i = k % depth
            if k >= depth:
                compute_stream.wait_event(done_d2h[i])  # added barrier 1
            tk.launch(self.kernel, compute_stream, launch, vram_buf[i], k)  # decode(latent, out=vram_buf[i])
            done_decode[i].record(stream=compute_stream)
            released.acquire()  # added barrier 3: host_buf[i] was released by the worker
            with torch.cuda.stream(copy_stream):
                copy_stream.wait_event(done_decode[i])
                host_buf[i].copy_(vram_buf[i], non_blocking=True)
                done_d2h[i].record(stream=copy_stream)
            with cv:
                queue.append(i)
                cv.notify()
        with cv:
            finished[0] = True
            cv.notify()
        th.join()
        torch.cuda.synchronize()
        return common.ms_since(t0)

    def close(self):
        self.vram_buf, self.host_buf = [], []
        self.torch.cuda.empty_cache()


if __name__ == "__main__":
    common.run_stream_peer(PEER, lambda device: TorchKernel(PEER, device), SketchCell)
