"""Running contenders as child processes and measuring them: wall time, CPU and peak RSS from wait4."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


class BenchError(RuntimeError):
    """A contender failed or the machine lacks what the benchmark needs."""


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float  # user + system of the child and everything it waited for (a shell's pipe)
    peak_rss_mb: float  # the largest single process among them
    output_bytes: int = 0
    job_seconds: float = 0.0  # the tool's own time for its objects: the wall time less start-up
    report: dict | None = None  # the tool's --json report
    server_cpu_seconds: float = 0.0  # PostgreSQL's processes meanwhile (the backends do the same COPY for both)
    store_cpu_seconds: float = 0.0  # the S3 server's process meanwhile (moto, in its own process)


@dataclass
class Case:
    name: str
    rows: int
    text_bytes: int  # the partitions' size as COPY text: MB/s is this over the wall time
    samples: list[Sample] = field(default_factory=list)
    baseline: str | None = None  # the case this one is compared with
    note: str = ""

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples) if self.samples else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.median("seconds") if self.samples else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.text_bytes / 1e6 / self.median("seconds") if self.samples else 0.0

    def summary(self, cases: Mapping[str, Case]) -> dict:
        base = cases.get(self.baseline or "")
        ratio = self.rows_per_second / base.rows_per_second if base and base.rows_per_second else None
        size_ratio = (self.median("output_bytes") / base.median("output_bytes")
                      if base and base.median("output_bytes") and self.median("output_bytes") else None)
        cpu = self.median("cpu_seconds")
        cpu_ratio = cpu / base.median("cpu_seconds") if base and base.samples and base.median("cpu_seconds") else None
        return {
            "name": self.name, "rows": self.rows, "text_bytes": self.text_bytes,
            "cpu_us_per_row": cpu / self.rows * 1e6 if self.rows else None, "cpu_ratio": cpu_ratio,
            "server_cpu_seconds": self.median("server_cpu_seconds"),
            "store_cpu_seconds": self.median("store_cpu_seconds"),
            "seconds": self.median("seconds"), "cpu_seconds": self.median("cpu_seconds"),
            "rows_per_second": self.rows_per_second, "mb_per_second": self.mb_per_second,
            "job_rows_per_second": self.rows / self.median("job_seconds") if self.median("job_seconds") else None,
            "output_bytes": self.median("output_bytes"), "peak_rss_mb": max(s.peak_rss_mb for s in self.samples),
            "baseline": self.baseline, "ratio": ratio, "size_ratio": size_ratio, "note": self.note,
            "samples": [{k: v for k, v in asdict(s).items() if k != "report"} for s in self.samples],
        }


def run_together(commands: Sequence[Sequence[str]], env: Mapping[str, str], outputs: Sequence[Path] = (),
                 scratch: Path | None = None) -> tuple[Sample, list[str]]:
    """Start every command at once; the sample ends when the last one does. Returns each one's stdout.

    os.wait4 gives each child's CPU. Peak RSS comes from polling VmHWM: a child's ru_maxrss includes the
    memory of this process at the fork, which would hide the child's own.
    """
    with contextlib.ExitStack() as files:
        logs = [files.enter_context(tempfile.TemporaryFile(dir=scratch)) for _ in commands]
        errs = [files.enter_context(tempfile.TemporaryFile(dir=scratch)) for _ in commands]
        started = time.perf_counter()
        procs = [subprocess.Popen(list(cmd), env=dict(env), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
                 for cmd, out, err in zip(commands, logs, errs, strict=True)]
        watcher = _PeakWatcher({proc.pid for proc in procs})
        cpu = 0.0
        failures = []
        for proc, err in zip(procs, errs, strict=True):
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            if proc.returncode != 0:
                err.seek(0)
                failures.append(f"{' '.join(map(str, proc.args))} exited {proc.returncode}: "
                                f"{err.read().decode(errors='replace').strip()[-2000:]}")
        seconds = time.perf_counter() - started
        rss = watcher.stop()
        if failures:
            raise BenchError("\n".join(failures))
        stdouts = []
        for log in logs:
            log.seek(0)
            stdouts.append(log.read().decode())
    size = sum(path.stat().st_size for path in outputs if path.exists())
    return Sample(seconds, cpu, rss, size), stdouts


class _PeakWatcher:
    """Polls the high-water RSS (VmHWM) of some processes and all their descendants until stopped."""

    INTERVAL = 0.05  # VmHWM is a high-water mark: polling only needs to catch each process once, late

    def __init__(self, roots: set[int]) -> None:
        self.roots = roots
        self.peaks: dict[int, int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rss-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """The largest single process's peak, in MB."""
        self._stopped.set()
        self._thread.join()
        return max(self.peaks.values(), default=0) / 1024

    def _watch(self) -> None:
        while not self._stopped.wait(self.INTERVAL):
            for pid in self._tree():
                if (peak := _vm_hwm_kb(pid)) is not None:
                    self.peaks[pid] = max(self.peaks.get(pid, 0), peak)

    def _tree(self) -> set[int]:
        """The roots and their descendants, from /proc/PID/task/TID/children: a few small reads per poll
        (scanning all of /proc took ~9 ms, a third of a core stolen from the contenders)."""
        found: set[int] = set()
        todo = list(self.roots)
        while todo:
            pid = todo.pop()
            found.add(pid)
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for task in tasks:
                try:
                    todo += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
                except OSError:
                    continue
        return found


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def process_cpu(pid: int) -> float:
    """User + system seconds of a process and of its children it has waited for (/proc/PID/stat).

    For the postmaster this is every backend that has ended: it reaps them. 0.0 once the process is gone.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime (fields 14-17 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu(pid: int) -> float:
    """process_cpu of a process plus its live children (a postmaster's running backends)."""
    total = process_cpu(pid)
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split():
                total += process_cpu(int(child))
    except OSError:
        pass
    return total


class Burners:
    """One CPU-burning process per core: the loaded machine a production host usually is."""

    def __init__(self, count: int | None = None) -> None:
        self.count = count or os.cpu_count() or 1

    def __enter__(self) -> Burners:
        import sys

        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(self.count)]
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait()
