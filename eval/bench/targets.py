"""The performance targets, compared with the default backend's measured figures (never asserted)."""

from __future__ import annotations

from collections.abc import Callable

from .results import BenchReport, HttpResult, TargetCheck

HTTP_TARGET_LEVEL = 16  # the concurrency whose throughput and p99 the targets read
RECALL_TARGET = 0.95


def check_targets(report: BenchReport) -> list[TargetCheck]:
    """The issue's targets against the measured figures of the default backend (None = not measured)."""
    backend = report.default_backend
    rows: list[TargetCheck] = []

    def add(name: str, target: str, value: float | None, unit: str, ok: Callable[[float], bool],
            source: str) -> None:
        rows.append(TargetCheck(name=name, target=target, measured=None if value is None else round(value, 3),
                                unit=unit, met=None if value is None else bool(ok(value)), source=source))

    ip = next((r for r in report.inprocess if r.variant == backend), None)
    add("in-process answer p50", "<= 5", ip.total.p50 if ip else None, "ms", lambda v: v <= 5, f"in-process {backend}")
    add("in-process answer p95", "<= 10", ip.total.p95 if ip else None, "ms", lambda v: v <= 10,
        f"in-process {backend}")
    served: list[HttpResult | None] = [r for r in report.http if r.variant == backend and not r.error] or [None]
    for hr in served:  # one set of HTTP rows per served configuration (1 worker, 2 workers)
        where = (f"http {backend}, {hr.workers} worker{'s' if hr.workers > 1 else ''}"
                 f"{', Redis sessions' if hr.sessions == 'redis' else ''}" if hr else f"http {backend}")
        lv1 = next((lv for lv in hr.levels if lv.concurrency == 1 and not lv.cached), None) if hr else None
        lv16 = next((lv for lv in hr.levels if lv.concurrency == HTTP_TARGET_LEVEL and not lv.cached),
                    None) if hr else None
        add("HTTP p50 at concurrency 1", "<= 8", lv1.latency.p50 if lv1 else None, "ms", lambda v: v <= 8,
            f"{where}, unique questions")
        add(f"HTTP throughput at concurrency {HTTP_TARGET_LEVEL}", ">= 300", lv16.answers_per_s if lv16 else None,
            "answers/s", lambda v: v >= 300, f"{where}, unique questions")
        add(f"HTTP p99 at concurrency {HTTP_TARGET_LEVEL}", "<= 100", lv16.latency.p99 if lv16 else None, "ms",
            lambda v: v <= 100, f"{where}, unique questions")
        add(f"HTTP errors at concurrency {HTTP_TARGET_LEVEL}", "= 0", lv16.errors if lv16 else None, "errors",
            lambda v: v == 0, where)
        add("cold start to ready", "<= 5", hr.cold_start_median_s if hr else None, "s", lambda v: v <= 5, where)
        add("peak RSS per worker", "<= 600", hr.peak_rss_mib if hr else None,
            "MiB", lambda v: v <= 600, where)
    br = next((r for r in report.build if r.variant == backend), None)
    add("build throughput", ">= 250", br.chunks_per_s if br else None, "chunks/s", lambda v: v >= 250,
        f"build {backend}, {br.synthetic_chunks if br else 0} synthetic chunks")
    big = next((r for r in report.scale_vectors if r.n >= 1_000_000), None)
    add("1M approximate search p50", "<= 5", big.search.p50 if big else None, "ms", lambda v: v <= 5,
        f"scale, nprobe {big.nprobe if big else '-'}")
    add("1M recall@10", ">= 0.95", big.recall_at_10 if big else None, "", lambda v: v >= 0.95, "scale")
    add("1M index memory", "<= 2048", big.index_mib if big else None, "MiB", lambda v: v <= 2048, "scale")
    bm = next((r for r in report.scale_bm25 if r.n >= 1_000_000), None)
    bm = bm or (max(report.scale_bm25, key=lambda r: r.n) if report.scale_bm25 else None)
    add("BM25 query p50", "<= 20", bm.query.p50 if bm else None, "ms", lambda v: v <= 20,
        f"scale, {bm.n if bm else 0:,} docs")
    return rows

