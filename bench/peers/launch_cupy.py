"""Launch cost through CuPy's RawKernel, measured the way bench/launch.ts measures tandem:
mean host time over N back-to-back launches after a warm-up, then one synchronize.
Kernels: `empty()` and `four(float*, const float*, unsigned int, float)` (same source).
Prints one JSON object on stdout: {"peer": "cupy", "status": "ok", "emptyUs", "fourArgsUs", ...}
or {"status": "skipped", "reason"} when CuPy or a GPU is missing.
"""
import json
import sys
import time

SOURCE = r'''
extern "C" __global__ void empty() {}
extern "C" __global__ void four(float *out, const float *in, unsigned int n, float scale) {
  if (n == 0xffffffffu) out[0] = in[0] * scale;
}
'''


def main():
    launches = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    warmup = 2000
    try:
        import cupy as cp
        import numpy as np
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"peer": "cupy", "status": "skipped", "reason": "CuPy not importable: %s" % e}))
        return
    mod = cp.RawModule(code=SOURCE)
    empty = mod.get_function("empty")
    four = mod.get_function("four")
    out = cp.zeros(16, dtype=cp.float32)
    inp = cp.ones(16, dtype=cp.float32)
    stream = cp.cuda.Stream(non_blocking=True)
    n = np.uint32(16)
    scale = np.float32(2.0)

    def measure(launch):
        with stream:
            for _ in range(warmup):
                launch()
            stream.synchronize()
            t0 = time.perf_counter()
            for _ in range(launches):
                launch()
            t1 = time.perf_counter()
            stream.synchronize()
        return (t1 - t0) * 1e6 / launches

    empty_us = measure(lambda: empty((1,), (1,), ()))
    four_us = measure(lambda: four((1,), (1,), (out, inp, n, scale)))
    print(json.dumps({"peer": "cupy", "status": "ok", "cupy": cp.__version__, "launches": launches,
                      "emptyUs": empty_us, "fourArgsUs": four_us}))


if __name__ == "__main__":
    main()
