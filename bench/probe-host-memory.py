"""Probe: does the kind or the NUMA placement of pinned host memory change D2H bandwidth on this host?

Times the same D2H copies (64 MiB x 128 over 4 host buffers, 4 MiB x 2048 over 16) into host
memory made several ways, the variants alternating round by round so drift hits them alike:
  hostAlloc      cudaHostAlloc (what torch pin_memory, CuPy and tandem's allocPinned use)
  reg-4k         anonymous mmap, 4 KiB pages (MADV_NOHUGEPAGE), touched, cudaHostRegister
  reg-thp        anonymous mmap, 2 MiB aligned, MADV_HUGEPAGE, touched, cudaHostRegister
  hugetlb        mmap MAP_HUGETLB (only where hugepages are reserved), cudaHostRegister
  hostAlloc@nN   cudaHostAlloc with the thread bound (CPUs and memory policy) to NUMA node N
The copies are queued behind a hold kernel, so the events time GPU work only.
  python3 bench/probe-host-memory.py [ROUNDS]
Measured (H100 host: a KVM guest with one NUMA node, no IOMMU, THP on madvise, no hugepages
reserved; 5 rounds, on a host whose D2H drifted): medians 64 MiB hostAlloc 54.75, reg-4k 53.96,
reg-thp 54.85 GB/s; 4 MiB 53.49 / 53.61 / 53.44; every variant had its slow rounds (44-52 GB/s).
No kind of host memory is faster to copy into there, and there is no NUMA placement to choose.
"""
import ctypes
import glob
import mmap
import os
import subprocess
import sys

import cupy as cp

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
MIB = 1024 * 1024
rt = cp.cuda.runtime
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return "(%s)" % e


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "(%s)" % e.strerror


print("== host")
print("cpus", os.cpu_count(), "affinity", len(os.sched_getaffinity(0)))
nodes = sorted(glob.glob("/sys/devices/system/node/node[0-9]*"))
for n in nodes:
    print(os.path.basename(n), "cpus", read(n + "/cpulist"), "|", read(n + "/meminfo").splitlines()[0] if os.path.exists(n + "/meminfo") else "")
bus = sh("nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader").splitlines()[0].lower()
bus = bus[4:] if bus.startswith("0000") and len(bus) > 12 else bus
print("gpu bus", bus, "numa_node", read("/sys/bus/pci/devices/%s/numa_node" % bus), "link", read("/sys/bus/pci/devices/%s/current_link_speed" % bus), read("/sys/bus/pci/devices/%s/current_link_width" % bus))
print("thp", read("/sys/kernel/mm/transparent_hugepage/enabled"), "defrag", read("/sys/kernel/mm/transparent_hugepage/defrag"))
print("hugepages", read("/proc/sys/vm/nr_hugepages"), "iommu groups", len(glob.glob("/sys/kernel/iommu_groups/*")))
print("cmdline", read("/proc/cmdline"))
print(sh("nvidia-smi topo -m | head -5"))
print(sh("lscpu | grep -iE 'model name|numa|socket|hypervisor'"))

HOLD = cp.RawKernel(r"""
extern "C" __global__ void hold(unsigned long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
}""", "hold")

MPOL_DEFAULT, MPOL_BIND = 0, 2
SYS_set_mempolicy = 238


def set_mempolicy(node):
    if node is None:
        return libc.syscall(SYS_set_mempolicy, MPOL_DEFAULT, None, ctypes.c_ulong(0))
    mask = ctypes.c_ulong(1 << node)
    return libc.syscall(SYS_set_mempolicy, MPOL_BIND, ctypes.byref(mask), ctypes.c_ulong(64))


class Host:
    """One host buffer of `size` bytes made the named way; .ptr, .close()."""

    def __init__(self, kind, size, node=None):
        self.kind, self.size, self.mm, self.ptr, self.registered = kind, size, None, None, False
        if kind == "hostAlloc":
            self.ptr = rt.hostAlloc(size, 0)
            return
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        if kind == "hugetlb":
            flags |= 0x40000  # MAP_HUGETLB
            self.mm = mmap.mmap(-1, size, flags=flags)
        else:
            self.mm = mmap.mmap(-1, size + 2 * MIB, flags=flags)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.mm))
        off = 0 if kind == "hugetlb" else (-base) % (2 * MIB)
        if kind == "reg-thp":
            self.mm.madvise(mmap.MADV_HUGEPAGE, off, size)
        elif kind == "reg-4k":
            self.mm.madvise(mmap.MADV_NOHUGEPAGE, off, size)
        ctypes.memset(base + off, 1, size)
        self.ptr = base + off
        rt.hostRegister(self.ptr, size, 0)
        self.registered = True

    def close(self):
        if self.kind == "hostAlloc":
            rt.freeHost(self.ptr)
        else:
            if self.registered:
                rt.hostUnregister(self.ptr)
            # ctypes.c_char.from_buffer holds an export: the mapping is dropped with the object
            self.mm = None


def anon_huge_kb():
    for line in read("/proc/self/smaps_rollup").splitlines():
        if line.startswith("AnonHugePages"):
            return int(line.split()[1])
    return -1


def time_d2h(hosts, devs, size, n):
    s = cp.cuda.Stream(non_blocking=True)
    e0, e1 = cp.cuda.Event(), cp.cuda.Event()
    with s:
        for k in range(2):
            rt.memcpyAsync(hosts[k % len(hosts)].ptr, devs[k % len(devs)].data.ptr, size, 2, s.ptr)
        s.synchronize()
        HOLD((1,), (1,), (cp.uint64(30_000_000),))
        e0.record(s)
        for k in range(n):
            rt.memcpyAsync(hosts[k % len(hosts)].ptr, devs[k % len(devs)].data.ptr, size, 2, s.ptr)
        e1.record(s)
    e1.synchronize()
    return cp.cuda.get_elapsed_time(e0, e1)


variants = ["hostAlloc", "reg-4k", "reg-thp", "hugetlb"]
numa_nodes = [int(os.path.basename(n)[4:]) for n in nodes] if len(nodes) > 1 else []
variants += ["hostAlloc@n%d" % n for n in numa_nodes] + ["reg-4k@n%d" % n for n in numa_nodes]
cpus_of = {int(os.path.basename(n)[4:]): read(n + "/cpulist") for n in nodes}


def parse_cpus(text):
    out = set()
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


all_cpus = os.sched_getaffinity(0)
results = {}
for size_mib, n, depth in ((64, 128, 4), (4, 2048, 16)):
    size = size_mib * MIB
    devs = [cp.empty(size, dtype=cp.uint8) for _ in range(2)]
    for d in devs:
        d.fill(7)
    print("== D2H %d MiB x %d over %d host buffers (GB/s per round, variants alternating)" % (size_mib, n, depth))
    for r in range(ROUNDS):
        for v in variants:
            kind, _, node = v.partition("@n")
            node = int(node) if node else None
            try:
                if node is not None:
                    os.sched_setaffinity(0, parse_cpus(cpus_of[node]) & all_cpus or all_cpus)
                    set_mempolicy(node)
                before = anon_huge_kb()
                hosts = [Host(kind, size) for _ in range(depth)]
                huge = anon_huge_kb() - before
                if node is not None:
                    set_mempolicy(None)
                    os.sched_setaffinity(0, all_cpus)
                ms = time_d2h(hosts, devs, size, n)
                for h in hosts:
                    h.close()
                gbs = n * size / (ms / 1000) / 1e9
                results.setdefault((size_mib, v), []).append(gbs)
                if r == 0:
                    print("  %-14s first round %.2f GB/s (AnonHugePages +%d MiB)" % (v, gbs, huge // 1024))
            except Exception as e:  # noqa: BLE001
                if r == 0:
                    print("  %-14s unavailable: %s: %s" % (v, type(e).__name__, e))
                set_mempolicy(None)
                os.sched_setaffinity(0, all_cpus)
    del devs
    cp.get_default_memory_pool().free_all_blocks()

print("== summary: median (min-max) GB/s over %d rounds" % ROUNDS)
for (size_mib, v), xs in sorted(results.items()):
    xs = sorted(xs)
    print("  %2d MiB %-14s %.2f (%.2f-%.2f)" % (size_mib, v, xs[len(xs) // 2], xs[0], xs[-1]))
