"""`dgm-assistant`: crawl the site, build the index, ask, serve, evaluate, benchmark."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from assistant.config import Settings
from assistant.errors import DGMError

app = typer.Typer(help="The DGM Assistant: cited answers on Belgium's multilateral policy and the DGM's "
                       "directorates.", no_args_is_help=True, add_completion=False)
console = Console()
err = Console(stderr=True)


def flag(*names: str, help: str) -> Any:
    """A boolean option shown as a plain flag in --help (no value to give)."""
    return typer.Option(*names, help=help, metavar="")


def setting(field: str, help: str, *names: str) -> Any:
    """An option that overrides a setting: --help names its environment variable and shows its default."""
    default = Settings.model_fields[field].default
    return typer.Option(*names, help=f"{help} (env DGM_{field.upper()})",
                        show_default="none" if default is None else str(default))


def _settings(**overrides) -> Settings:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=2)


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Through the environment rather than by importing transformers (a second of start-up for nothing).
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("sentence_transformers", "transformers", "httpx", "faiss", "bm25s", "usp"):
        logging.getLogger(name).setLevel(logging.ERROR)


@app.callback()
def main(verbose: Annotated[bool, flag("--verbose", "-v", help="Log debug details")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    _quiet_libraries()


@app.command()
def build(
    corpus: Annotated[Path | None, setting("corpus_dir", "Corpus folder")] = None,
    index: Annotated[Path | None, setting("index_dir", "Index folder")] = None,
    index_type: Annotated[str | None, setting("index_type", "flat | hnsw | ivf")] = None,
    quiet: Annotated[bool, flag("--quiet", "-q", help="No progress bar or summary")] = False,
) -> None:
    """Build the index: corpus -> chunks -> embeddings -> FAISS + BM25 (unchanged chunks are not re-embedded)."""
    from assistant.factory import build as do_build

    try:
        settings = _settings(corpus_dir=corpus, index_dir=index, index_type=index_type)
        report = do_build(settings, progress=not quiet)
    except (DGMError, ValueError) as exc:
        raise _fail(exc) from None
    if not quiet:
        note = "nothing to embed: the corpus is unchanged" if report.embedded == 0 else \
            f"{report.embedded} embedded"
        console.print(f"[green]built[/] {report.path}: {report.chunks} chunks ({note}, {report.reused} reused), "
                      f"{report.index_type} index, model {report.model}, {report.seconds:.2f} s")


@app.command()
def crawl(
    url: Annotated[str, typer.Argument(help="The site's start page; only its host is crawled")],
    out: Annotated[Path | None, setting("corpus_dir", "Corpus folder (pages/ and crawl-state.json)", "--out")] = None,
    sitemap: Annotated[str | None, typer.Option(help="Sitemap to read instead of robots.txt's / sitemap.xml")] = None,
    max_pages: Annotated[int, typer.Option(min=1, help="Most URLs one crawl visits")] = 1000,
    rate: Annotated[float, typer.Option(min=0.01, help="Requests per second at most")] = 1.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at most")] = 2,
    contact: Annotated[str, typer.Option(envvar="DGM_CRAWL_CONTACT",
                                         help="URL or e-mail for the user agent, so the site can reach you")] = "",
) -> None:
    """Fetch a site into the corpus folder: its sitemaps' pages, robots.txt obeyed, a polite rate, only what
    changed on a recrawl; an interrupted crawl goes on where it stopped."""
    from ingest.crawl import CrawlOptions, crawl_site

    try:
        options = CrawlOptions(max_pages=max_pages, rate=rate, concurrency=concurrency, sitemap=sitemap,
                               contact=contact)
        report = crawl_site(url, out or _settings().corpus_dir, options)
    except (DGMError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=0 if report.finished else 130)


def _print_answer(ans) -> None:
    style = "yellow" if ans.abstained else "green"
    console.print(Panel(ans.answer, title="Answer" + (" (not covered)" if ans.abstained else ""),
                        border_style=style))
    if ans.rewritten_query != ans.question:
        console.print(f"[dim]understood as:[/] {ans.rewritten_query}")
    if ans.directorate:
        d = ans.directorate
        console.print(f"[bold]Directorate:[/] {d.code} — {d.name} (confidence {d.confidence:.2f}; "
                      f"remit passage {d.evidence_id})")
    if ans.secondary_directorate:
        s = ans.secondary_directorate
        console.print(f"[bold]Also:[/] {s.code} — {s.name} (confidence {s.confidence:.2f})")
    if ans.citations:
        table = Table(title="Cited passages (in the order the answer refers to them)", show_lines=True)
        table.add_column("n", justify="right")
        table.add_column("source / section")
        table.add_column("passage")
        for c in ans.citations:
            where = f"{escape(c.title)}\n[dim]{escape(c.section or '-')}[/]\n[dim]{c.id}[/]"
            if c.role == "remit":
                where += "\n[bold]the directorate's remit[/]"
            if c.link:
                where += f"\n[link={c.link}]{escape(c.url or c.link)}[/link]"
            table.add_row(str(c.n), where, escape(c.text))
        console.print(table)
    if ans.related:
        table = Table(title="Related passages (retrieved, not cited)")
        table.add_column("rank", justify="right")
        table.add_column("source / section")
        table.add_column("passage")
        for p in ans.related:
            first = " ".join(p.text.split())
            table.add_row(str(p.rank), f"{escape(p.title)} [dim]· {escape(p.section or '-')}[/]",
                          escape(first[:120] + ("…" if len(first) > 120 else "")))
        console.print(table)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain language")],
    top_k: Annotated[int | None, setting("top_k", "Passages to retrieve (1-20): cited or related",
                                         "--top-k", "-k")] = None,
    directorate: Annotated[str | None, typer.Option(help="Restrict to a directorate code, e.g. M4")] = None,
    document: Annotated[str | None, typer.Option(help="Restrict to a document id")] = None,
    as_json: Annotated[bool, flag("--json", help="Print the answer as JSON")] = False,
    index: Annotated[Path | None, setting("index_dir", "Index folder")] = None,
) -> None:
    """Answer one question: the answer, the cited passages with source and section, the directorate."""
    from assistant.factory import load_assistant

    try:
        settings = _settings(index_dir=index)
        assistant = load_assistant(settings)
        ans = assistant.ask(question, top_k=top_k or settings.top_k, directorate=directorate, document=document)
    except DGMError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_answer(ans)


# Configurations that `eval --compare` knows: naive baselines beside the full assistant.
COMPARE_CONFIGS: dict[str, dict[str, Any]] = {
    "bm25": dict(mode="bm25", use_router=False, use_abstention=False, use_followups=False),
    "dense": dict(mode="dense", use_router=False, use_abstention=False, use_followups=False),
    "hybrid": dict(mode="hybrid", use_router=False, use_abstention=False, use_followups=False),
    "full": {},
}


@app.command("eval")
def evaluate(
    qa: Annotated[Path, typer.Option(help="Q&A file (JSON Lines)")] = Path("eval/qa_test.jsonl"),
    url: Annotated[str | None, typer.Option(help="Evaluate a running service, e.g. http://127.0.0.1:8000")] = None,
    compare: Annotated[str, typer.Option(help=f"Comma-separated configurations among "
                                              f"{', '.join(COMPARE_CONFIGS)}; the last one is gated")] = "full",
    report: Annotated[Path | None, typer.Option(help="Write report.json, report.md and charts here")] = None,
    fail_under: Annotated[list[str] | None, typer.Option(help="metric=value: fail when a figure is lower")] = None,
    fail_over: Annotated[list[str] | None, typer.Option(help="metric=value: fail when a figure is higher")] = None,
    top_k: Annotated[int, typer.Option(help="Passages requested per question (ranking depth)")] = 10,
    quiet: Annotated[bool, flag("--quiet", "-q", help="No progress bar")] = False,
    index: Annotated[Path | None, setting("index_dir", "Index folder")] = None,
    qrels: Annotated[Path | None, typer.Option(help="Citation labels (JSON Lines) for citation precision and "
                                                    "recall; default qrels/<split>.jsonl beside the Q&A file")] = None,
    with_growth: Annotated[bool, flag("--with-growth", help="Also evaluate the assistant over the corpus plus "
                                                            "the growth fixture (eval/growth/), nothing retuned, "
                                                            "as the configuration full+growth")] = False,
) -> None:
    """Evaluate on a Q&A set: retrieval, routing, abstention, follow-ups and latency, per kind of question."""
    from eval.cli import main as eval_main
    from eval.cli import parse_thresholds
    from eval.runner import Asker, HttpAsker

    fail_under, fail_over = fail_under or [], fail_over or []
    names = [c.strip() for c in compare.split(",") if c.strip()]
    try:
        parse_thresholds(fail_under, direction="under")
        parse_thresholds(fail_over, direction="over")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    unknown = [n for n in names if n not in COMPARE_CONFIGS]
    if unknown or not names:
        raise typer.BadParameter(f"unknown configuration(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose among {', '.join(COMPARE_CONFIGS)}", param_hint="--compare")
    if url and names != ["full"]:
        raise typer.BadParameter("--url evaluates the running service as it is configured; drop --compare",
                                 param_hint="--url")
    askers: dict[str, Asker]
    if url:
        askers = {"http": HttpAsker(url, timeout=30.0)}
    else:
        from dataclasses import replace

        from assistant.factory import load_assistant
        from assistant.pipeline import Assistant

        try:
            full = load_assistant(_settings(index_dir=index))
        except DGMError as exc:
            raise _fail(exc) from None
        askers = {n: full if n == "full" else Assistant(
                      full.engine, options=replace(full.options, **COMPARE_CONFIGS[n]),
                      scope_weights=full.scope_weights)
                  for n in names}
        if with_growth:
            try:
                askers["full+growth"] = _growth_assistant(_settings(index_dir=index), full)
            except (DGMError, ValueError) as exc:
                raise _fail(exc) from None
    raise typer.Exit(eval_main(qa, askers, report, fail_under, fail_over, top_k=top_k, quiet=quiet, qrels=qrels,
                               corpus=_settings().corpus_dir))


def _growth_assistant(settings: Settings, seeds):
    """The assistant over the shipped corpus plus eval/growth/ (`eval.corpora.grown`), with the seeds
    assistant's model and its fit: nothing is retuned for the new pages."""
    from assistant.factory import load_assistant
    from eval.corpora import grown

    return load_assistant(grown(settings, seeds.engine.embedder), embedder=seeds.engine.embedder)


@app.command()
def tune(
    qa: Annotated[Path, typer.Option(help="The dev Q&A file to fit on (never a test split)")] = Path(
        "eval/qa_dev.jsonl"),
    write: Annotated[bool, flag("--write", help="Store the fit in the index folder (fit.json)")] = False,
    ship: Annotated[bool, flag("--ship", help="Also store it in the corpus's fits folder "
                                                      "[DGM_FITS_DIR], where a fresh build finds it")] = False,
    l2: Annotated[float, typer.Option(help="L2 penalty of the scope model")] = 0.1,
    growth: Annotated[bool, typer.Option("--growth/--no-growth", help="Also fit the scope model on the growth "
                                         "fixture's dev questions over the corpus plus its pages")] = False,
    index: Annotated[Path | None, setting("index_dir", "Index folder")] = None,
) -> None:
    """Fit the scope model and the routing calibration on the dev split, through the assistant itself."""
    from eval.tune import store
    from eval.tune import tune as do_tune

    try:
        settings = _settings(index_dir=index)
        fit = do_tune(settings, qa, l2=l2, say=console.print, growth=growth)
    except (DGMError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(fit.model_dump_json(indent=1, exclude={"question"}))
    if write or ship:
        for path in store(fit, settings, settings.index_dir.resolve(), ship=ship):
            console.print(f"written to {path} for embedding model {fit.model}")


@app.command()
def bench(
    scale: Annotated[bool, flag(
        "--scale", help="Also 100k/1M synthetic corpora (FAISS IVF + BM25; ~3 min, ~5 GiB)")] = False,
    plot: Annotated[bool, flag("--plot", help="Also write bench_*.png")] = False,
    http: Annotated[bool, typer.Option("--http/--no-http", help="Start `dgm-assistant serve` and load it")] = True,
    out: Annotated[Path | None, typer.Option(
        help="Folder for bench.json / bench.md (--out eval/reports replaces the committed report)",
        show_default="$XDG_CACHE_HOME/dgm-assistant/bench, else ~/.cache/dgm-assistant/bench")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Runs per measurement; reports give medians")] = 3,
    compare_model: Annotated[list[str] | None, typer.Option(
        help="Another embedding model measured side by side in the same run (repeatable; --compare-model '' "
             "for none)", show_default="the other packaged model")] = None,
    soak_s: Annotated[int, typer.Option(
        "--soak-s", min=0, help="Seconds of the soak (steady load: requests, errors, RSS drift); 0: none")] = 30,
) -> None:
    """Benchmark latency, throughput, cold start, build, a soak and (with --scale) large synthetic corpora."""
    from eval.bench import main as bench_main
    from index import MULTILINGUAL_MODEL, PACKAGED_MODEL

    settings = _settings()
    if compare_model is None:
        compare_model = [m for m in (PACKAGED_MODEL, MULTILINGUAL_MODEL) if m != settings.embedding_model]
    try:
        code = bench_main(settings, out, scale=scale, plot=plot, http=http, repeats=repeats, console=console,
                          compare_models=[m for m in compare_model if m], soak_s=soak_s)
    except (DGMError, ValueError) as exc:
        raise _fail(exc) from None
    raise typer.Exit(code=code)


@app.command()
def serve(
    host: Annotated[str | None, setting("host", "Bind address")] = None,
    port: Annotated[int | None, setting("port", "Port")] = None,
    workers: Annotated[int | None, setting("workers", "Worker processes, each loading the model once")] = None,
    index: Annotated[Path | None, setting("index_dir", "Index folder")] = None,
) -> None:
    """Serve the HTTP API, the widget and its demo page (builds the index first if there is none)."""
    from assistant.api.server import run

    try:
        settings = _settings(host=host, port=port, workers=workers, index_dir=index)
        code = run(settings, console=err)
    except (DGMError, ValueError) as exc:
        raise _fail(exc) from None
    raise typer.Exit(code=code)


@app.command("migrate-feedback")
def migrate_feedback(
    source: Annotated[Path | None, typer.Option(
        "--from", help="The JSON Lines feedback file; its rotations (.1, .2 ...) come too [DGM_FEEDBACK_PATH]")] = None,
    database: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the database [DGM_DATABASE_URL]")] = None,
) -> None:
    """Import the former JSON Lines feedback into the database; running it again adds nothing twice."""
    from sqlalchemy.exc import SQLAlchemyError

    from assistant.api.feedback import FeedbackStore, jsonl_files
    from assistant.privacy import Masker

    try:
        settings = _settings(feedback_path=source, database_url=database)
        files = jsonl_files(settings.feedback_path)
        if not files:
            raise ValueError(f"no feedback file at {settings.feedback_path}")
        store = FeedbackStore(settings.database_url, settings.database_timeout_s)
        try:
            added, skipped = store.import_jsonl(settings.feedback_path,
                                                mask=Masker(min_digits=settings.mask_min_digits).mask)
            total = store.count()
        finally:
            store.close()
    except (DGMError, ValueError, OSError, SQLAlchemyError) as exc:
        raise _fail(exc) from None
    console.print(f"imported {added} records from {len(files)} file(s) into {store.url.render_as_string()} "
                  f"({skipped} already there; {total} in all)", soft_wrap=True)


def _records(settings: Settings):
    from assistant.api.feedback import make_engine
    from assistant.insights import QuestionRecords

    return QuestionRecords(make_engine(settings.database_url, settings.database_timeout_s), settings.retention_days)


def _print_report(report) -> None:
    """The report as terminal tables (rich)."""
    console.print(f"[bold]{report.total}[/] questions ({report.answered} answered, {report.declined} declined; "
                  f"{report.followup_share:.0%} follow-ups)" + (f" since {report.since:%Y-%m-%d}" if report.since
                                                                    else ""))
    for title, head, rows in (("Questions per day", "day", [(d.isoformat(), n) for d, n in report.per_day]),
                              ("Questions per language", "language", report.per_language),
                              ("Answered questions per unit", "unit", report.per_unit),
                              ("Why questions were declined", "reason", report.reasons),
                              ("Ratings", "rating", report.ratings)):
        if rows:
            console.print(f"\n[bold]{title}[/]")
            table = Table()
            table.add_column(head)
            table.add_column("questions", justify="right")
            for key, n in rows:
                table.add_row(escape(str(key)), str(n))
            console.print(table)
    if report.topics:
        console.print("\n[bold]Declined questions, by topic[/]")
        table = Table(show_lines=True)
        for col in ("#", "size", "example questions", "nearest page"):
            table.add_column(col, justify="right" if col in ("#", "size") else "left")
        for i, t in enumerate(report.topics, 1):
            near = (f"{t.nearest.title}" + (f" — {t.nearest.section}" if t.nearest.section else "")
                    + f" ({t.nearest.score:.2f})") if t.nearest else ""
            table.add_row(str(i), str(t.size), escape("\n".join(t.examples)), escape(near))
        console.print(table)
    elif report.declined and not report.clustered:
        console.print("[yellow]topics left out: they need the index (run `dgm-assistant build`)[/]")
    if report.disliked:
        console.print("\n[bold]Answers visitors disliked[/]")
        table = Table(show_lines=True)
        for col in ("when", "question", "comment", "answer"):
            table.add_column(col)
        for d in report.disliked:
            table.add_row(d.ts, escape(d.question), escape(d.comment or ""), escape(d.answer[:160]))
        console.print(table)


@app.command()
def report(
    days: Annotated[int | None, typer.Option(min=1, help="The last N days only (default: every record kept)")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the report as one HTML page with "
                                                               "charts (inline SVG, no script)")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the records as CSV")] = None,
    topics: Annotated[bool, typer.Option("--topics/--no-topics", help="Group the declined questions into topics "
                                                                       "(loads the model and index)")] = True,
    database: Annotated[str | None, setting("database_url", "SQLAlchemy URL of the database", "--database")] = None,
    index: Annotated[Path | None, setting("index_dir", "Index folder")] = None,
) -> None:
    """The web team's report: questions per day, language and unit, declined questions by topic, disliked
    answers, the share of follow-ups (every question text masked)."""
    from sqlalchemy.exc import SQLAlchemyError

    from assistant.insights import make_report, render_html, to_csv
    from assistant.privacy import Masker

    try:
        settings = _settings(database_url=database, index_dir=index)
        records = _records(settings)
        engine = None
        if topics and records.rows():
            from assistant.factory import load_engine

            try:
                engine = load_engine(settings)
            except DGMError as exc:
                err.print(f"[yellow]warning:[/] topics left out: {exc}")
        result = make_report(records, Masker(min_digits=settings.mask_min_digits), engine, days,
                             settings.report_max_topics, settings.report_examples)
        if html is not None:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(render_html(result), encoding="utf-8")
        if csv_file is not None:
            csv_file.parent.mkdir(parents=True, exist_ok=True)
            since = result.since
            csv_file.write_text(to_csv(records.rows(since)), encoding="utf-8")
    except (DGMError, ValueError, OSError, SQLAlchemyError) as exc:
        raise _fail(exc) from None
    _print_report(result)
    for what, path in (("HTML report", html), ("CSV", csv_file)):
        if path is not None:
            console.print(f"{what} written to {path}", soft_wrap=True)


@app.command()
def purge(
    everything: Annotated[bool, flag("--all", help="Delete every question record and feedback record")] = False,
    retention: Annotated[int | None, setting("retention_days", "Keep the records of the last N days",
                                             "--retention-days")] = None,
    database: Annotated[str | None, setting("database_url", "SQLAlchemy URL of the database", "--database")] = None,
) -> None:
    """Delete the question records and feedback older than the retention (the service does it on start too)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.exc import SQLAlchemyError

    try:
        settings = _settings(database_url=database, retention_days=retention)
        records = _records(settings)
        # --all: a cut-off in the future, so every record is older than it.
        now = datetime.now(UTC) + timedelta(days=settings.retention_days + 1) if everything else None
        questions, feedback = records.purge(now)
    except (DGMError, ValueError, OSError, SQLAlchemyError) as exc:
        raise _fail(exc) from None
    kept = "nothing kept" if everything else f"kept: the last {settings.retention_days} days"
    console.print(f"deleted {questions} question records and {feedback} feedback records ({kept})")


if __name__ == "__main__":  # pragma: no cover
    app()
