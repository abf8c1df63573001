"""How fast and how busy the machine was: its description, a pure-Python speed reference, the hypervisor's
steal time, and the memory and CPU time of processes."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from .results import Machine


def _read_cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> Machine:
    """The machine the figures come from: CPU model, cores, memory, versions, and how busy it was."""
    import psutil

    return Machine(
        cpu_model=_read_cpu_model(), cores=os.cpu_count() or 1,
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        os=f"{platform.system()} {platform.release()}", python=platform.python_version(),
        packages={p: _version(p) for p in ("torch", "sentence-transformers", "transformers", "onnxruntime",
                                           "faiss-cpu", "bm25s", "numpy", "fastapi", "uvicorn", "httpx")},
        load_avg_start=[round(x, 2) for x in os.getloadavg()], reference_ms=[reference_ms()],
        matmul_gflops=[matmul_gflops()])


REFERENCE_ROUNDS = 5


def reference_ms(rounds: int = REFERENCE_ROUNDS) -> float:
    """Best-of-``rounds`` time, in ms, of a fixed pure-Python workload (integer arithmetic, dict and string
    work). It is the same on every run, so its time says how fast the machine ran Python code when a report
    was made: on a shared virtual machine the same code's figures move with it between runs (a noisy
    neighbour or a lower clock shows here, not in the load average). It times Python code only: the int8
    model's speed has moved without it (docs/performance.md, "Machine speed")."""
    best = math.inf
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()  # a collection of whatever the process holds would land in the timing
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            counts: dict[int, int] = {}
            for i in range(200_000):
                counts[i % 1000] = counts.get(i % 1000, 0) + i * i
            "".join(str(v) for v in counts.values())
            best = min(best, time.perf_counter() - t)
    finally:
        if enabled:
            gc.enable()
    return round(best * 1000, 2)


MATMUL_SIZE = 512


def matmul_gflops(n: int = MATMUL_SIZE, rounds: int = REFERENCE_ROUNDS) -> float:
    """Best-of-``rounds`` speed, in GFLOP/s, of one core multiplying two ``n`` x ``n`` fp32 matrices (numpy's
    BLAS held to one thread). A transformer's inference is mostly such products, so this bounds what any
    backend can do here: a query of t tokens through a BERT of L layers of width h (feed-forward 4h) costs
    about 24 * L * h^2 * t floating-point operations, and a core cannot do them faster than this rate."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best = math.inf
    with threadpool_limits(1):
        a @ a  # warm the BLAS up
        for _ in range(rounds):
            t = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - t)
    return round(2 * n**3 / best / 1e9, 1)


class StealMeter:
    """Share of CPU time stolen by the hypervisor between `start` and `pct` (None where not reported).

    On a shared virtual machine, time other guests take from ours slows every figure without showing in the
    load average; reports carry it so that a slow run can be told from a slow service."""

    def __init__(self) -> None:
        self._t0 = self._read()

    @staticmethod
    def _read() -> tuple[float, float] | None:
        import psutil

        t = psutil.cpu_times()
        steal = getattr(t, "steal", None)
        return None if steal is None else (float(steal), float(sum(t)))

    def pct(self) -> float | None:
        t1 = self._read()
        if self._t0 is None or t1 is None or t1[1] <= self._t0[1]:
            return None
        return round(100 * (t1[0] - self._t0[0]) / (t1[1] - self._t0[1]), 1)


def peak_rss_mib() -> float:
    """This process's peak RSS so far: VmHWM, which starts afresh in a new program (ru_maxrss does not: a
    spawned child inherits its parent's across exec)."""
    import resource

    hwm = vm_hwm_mib(os.getpid())
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mib(pid: int) -> float | None:
    """A live process's peak RSS (VmHWM in /proc/<pid>/status)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None



def cpu_s(pids: Sequence[int]) -> float:
    """CPU time (user + system, seconds) the processes have used so far; vanished ones count nothing."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total

