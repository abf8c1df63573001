"""The `dgm-assistant eval` job as a plain function: load, run, print, write, check thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from ingest.errors import DGMError

from .dataset import QAFormatError, load_qa
from .qrels import default_qrels, load_qrels, pages_of
from .rules import count_rules
from .runner import METRICS, Asker, MetricSet, known_codes, run_eval

_RATE_HINT = "e.g. hit@3=0.9"


def parse_thresholds(specs: Sequence[str],
                     direction: Literal["under", "over"] | None = None) -> dict[str, float]:
    """Parse ``METRIC=VALUE`` specs (from ``--fail-under`` / ``--fail-over``).

    Args:
        specs: e.g. ``["hit@3=0.9", "directorate_accuracy=0.9"]``.
        direction: "under" accepts only higher-is-better figures, "over" only lower-is-better ones;
            None accepts any known figure.

    Returns:
        metric name -> threshold.

    Raises:
        ValueError: on a malformed spec, an unknown or wrong-direction metric, a value that is not a
            number or a rate outside [0, 1]; the message says how to fix it.
    """
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, raw = (s.strip() for s in spec.partition("="))
        if not sep or not name or not raw:
            raise ValueError(f"bad threshold {spec!r}: expected METRIC=VALUE, {_RATE_HINT}")
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r} in {spec!r}; choose from: {', '.join(METRICS)}")
        info = METRICS[name]
        if direction == "under" and not info.higher_is_better:
            raise ValueError(f"{name} is lower-is-better: use --fail-over {spec} instead of --fail-under")
        if direction == "over" and info.higher_is_better:
            raise ValueError(f"{name} is higher-is-better: use --fail-under {spec} instead of --fail-over")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"bad value {raw!r} in {spec!r}: expected a number, e.g. {name}="
                             f"{'0.9' if info.is_rate else '500'}") from None
        if info.is_rate and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is a share between 0 and 1, got {value} in {spec!r}; e.g. {name}=0.9")
        if not info.is_rate and value < 0:
            raise ValueError(f"{name} cannot be negative, got {value} in {spec!r}")
        if name in out:
            raise ValueError(f"threshold for {name} given twice ({name}={out[name]} and {spec!r}); keep one")
        out[name] = value
    return out


def check_thresholds(figures: MetricSet, fail_under: Mapping[str, float],
                     fail_over: Mapping[str, float]) -> list[str]:
    """Each figure that misses its threshold, as a sentence; a figure that was not measured misses too."""
    failures: list[str] = []
    for bound, thresholds in (("under", fail_under), ("over", fail_over)):
        for name, limit in thresholds.items():
            value = figures.value(name)
            if value is None:
                wanted = "≥" if bound == "under" else "≤"
                failures.append(f"{name} was not measured (no item qualifies), required {wanted} {limit}")
            elif bound == "under" and value < limit:
                failures.append(f"{name} = {value:.3f} < {limit} (--fail-under)")
            elif bound == "over" and value > limit:
                failures.append(f"{name} = {value:.3f} > {limit} (--fail-over)")
    return failures


def main(qa: Path, askers: dict[str, Asker], report_dir: Path | None, fail_under: list[str],
         fail_over: list[str], top_k: int, quiet: bool, qrels: Path | None = None,
         corpus: Path | None = None) -> int:
    """Run the evaluation and return the exit code.

    ``qrels``: the citation labels (default: ``qrels/<split>.jsonl`` beside the Q&A file, when it exists),
    located on the pages of ``corpus`` (the corpus folder the index was built from).

    0 = every threshold met; 1 = a threshold missed or every call of a configuration failed;
    2 = bad arguments or an invalid Q&A file. Thresholds are checked on the last configuration
    (the full assistant), overall (English items).
    """
    from rich.console import Console

    from .report import summary_tables, write_report

    console = Console()
    errors = Console(stderr=True)
    try:
        under = parse_thresholds(fail_under, direction="under")
        over = parse_thresholds(fail_over, direction="over")
        if not askers:
            raise ValueError("no configuration to evaluate; pass --url or --compare NAMES")
        if top_k < 1:
            raise ValueError(f"top_k must be greater than 0, got {top_k}")
        items = load_qa(qa, codes=known_codes(list(askers.values())[0]) if "growth" not in qa.parts else None)
        labels_path = qrels or default_qrels(qa)
        labels = None
        if labels_path is not None:
            if corpus is None:
                raise ValueError("citation labels need the corpus folder whose pages they quote; pass corpus")
            labels = load_qrels(labels_path, pages_of(corpus), ids=[i.id for i in items])
    except (ValueError, QAFormatError, DGMError) as exc:
        errors.print(f"[red]error:[/] {exc}", highlight=False)
        return 2

    report = run_eval(askers, items, top_k=top_k, progress=not quiet, qrels=labels).model_copy(
        update={"qa": str(qa), "qrels": str(labels_path) if labels_path is not None else None})
    # --quiet only silences the progress bar: the figures are the point of the command.
    for table in summary_tables(report):
        console.print(table)
    console.print(str(count_rules(Path(__file__).resolve().parents[1])), highlight=False)
    if report_dir is not None:
        written = write_report(report, report_dir)
        names = ", ".join(p.name for p in written)
        console.print(f"report written to {report_dir}: {names}", highlight=False)

    code = 0
    for config in report.configs:
        n_err = sum(r.error is not None for r in config.items)
        if n_err:
            first = next(r.error for r in config.items if r.error)
            errors.print(f"[yellow]warning:[/] {config.name}: {n_err} of {len(config.items)} calls failed; "
                         f"first: {first}", highlight=False)
        if n_err == len(config.items):
            errors.print(f"[red]{config.name}: every call failed[/]")
            code = 1
    full = report.configs[-1]
    missed = check_thresholds(full.overall, under, over)
    if missed:
        errors.print(f"[red]{len(missed)} threshold(s) missed by {full.name} (overall, English):[/]")
        for line in missed:
            errors.print(f"  - {line}", highlight=False)
        return 1
    if under or over:
        console.print(f"[green]all {len(under) + len(over)} threshold(s) met by {full.name}[/]")
    return code
