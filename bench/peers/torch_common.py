"""What the PyTorch peers share: the kernel launched by CuPy on a torch stream (so torch and
tandem run the very same CUDA source), and the stages timed alone on torch's streams."""
import warnings

import common


class _StreamRef:
    """A raw stream handle behind the CUDA stream protocol (what Stream.from_external reads)."""

    def __init__(self, ptr):
        self._ptr = ptr

    def __cuda_stream__(self):
        return (0, self._ptr)


def cupy_view_of(cupy, ptr, device_id):
    """CuPy's view of an existing stream, made once per torch stream. CuPy 14 deprecates
    cupy.cuda.ExternalStream for Stream.from_external (stream protocol); older CuPy has only the
    former. Either way the view must name the very same handle, or the peer would measure
    another stream's timing: checked below, falling back to ExternalStream (warning silenced)."""
    from_external = getattr(cupy.cuda.Stream, "from_external", None)
    if from_external is not None:
        try:
            s = from_external(_StreamRef(ptr))
            if int(s.ptr) == int(ptr):
                _say_once("cupy.cuda.Stream.from_external (CUDA stream protocol)")
                return s
        except Exception:  # noqa: BLE001 - an older protocol or signature: use the fallback
            pass
    _say_once("cupy.cuda.ExternalStream (fallback; its DeprecationWarning silenced)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cupy.cuda.ExternalStream(ptr, device_id)


_said = set()


def _say_once(how):
    if how not in _said:
        _said.add(how)
        common.log("torch streams seen by CuPy through %s" % how)


class TorchKernel:
    """torch and CuPy on one device, the kernels compiled by CuPy (from the config's spec)."""

    def __init__(self, peer, device):
        self.torch = common.import_torch(peer)
        self.cupy = common.import_cupy(peer)
        self.torch.cuda.set_device(device)
        self.torch.cuda.init()
        self.device_id = device
        self.cupy.cuda.Device(device).use()
        self.kernels = common.KernelCache(self.cupy)
        self._streams = {}

    def launch(self, kernel, stream, launch, tensor, index):
        """Enqueues `kernel` for chunk `index` writing `tensor` on the torch stream `stream`."""
        ptr = stream.cuda_stream
        ext = self._streams.get(ptr)
        if ext is None:
            # One CuPy view per torch stream, made once: the launch loop stays as cheap as CuPy's own.
            ext = self._streams[ptr] = cupy_view_of(self.cupy, ptr, self.device_id)
        with ext:
            kernel.launch(launch, tensor.data_ptr(), index)

    def warm(self, kernel, cell, dev, host, warm):
        """The first launches and copies (module load, first-use costs) off the timed runs."""
        torch = self.torch
        s = torch.cuda.Stream()
        for k in range(warm):
            self.launch(kernel, s, cell["launch"], dev[0], k)
        with torch.cuda.stream(s):
            for k in range(warm):
                host[0].copy_(dev[0], non_blocking=True)
        s.synchronize()
        return None, None

    def alone(self, kernel, cell, dev, host, warm):
        """Compute alone (kernels back to back) and pinned D2H alone (copies back to back), ms of
        GPU time between two timing events, as tandem measures its own stages alone."""
        torch = self.torch
        n, launch = cell["chunks"], cell["launch"]
        s = torch.cuda.Stream()
        for k in range(warm):
            self.launch(kernel, s, launch, dev[0], k)
        s.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(s)
        for k in range(n):
            self.launch(kernel, s, launch, dev[k % len(dev)], k)
        end.record(s)
        end.synchronize()
        compute_ms = start.elapsed_time(end)
        with torch.cuda.stream(s):
            for k in range(warm):
                host[0].copy_(dev[0], non_blocking=True)
        s.synchronize()
        start.record(s)
        with torch.cuda.stream(s):
            for k in range(n):
                host[k % len(host)].copy_(dev[k % len(dev)], non_blocking=True)
        end.record(s)
        end.synchronize()
        copy_ms = start.elapsed_time(end)
        return compute_ms, copy_ms
