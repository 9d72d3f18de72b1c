"""The soak harness (`make soak`) run for a few seconds, so that it cannot rot between long runs."""

from bench.soak import memory_verdict, run_soak


def test_memory_verdict():
    flat = [(t, 100_000 + t) for t in range(0, 100, 5)]
    assert memory_verdict(flat, 25, 0.20) is None
    leaking = [(t, 100_000 + 1_000 * t) for t in range(0, 100, 5)]
    assert "grew" in memory_verdict(leaking, 25, 0.20)
    assert memory_verdict([(0, 1), (1, 1)], 25, 0.20) == "too few memory samples after warm-up"


def test_short_soak_loses_nothing(tmp_path):
    # 5 s: the churn's first cut comes within 3 s, and six memory samples are taken.
    report = run_soak(5, tmp_path, sample_every=1)
    assert not report.problems, report.render()
    assert report.acked > 20 and report.sessions > 0 and report.cuts > 0
    assert len(report.rss_samples) >= 5 and all(kib > 0 for _, kib in report.rss_samples)
