"""A smoke run of the benchmark on tiny sizes, so it cannot rot. No timing assertions."""

import re

from mnist_cnn.bench import run_benchmarks


def test_quick_benchmark_produces_every_section():
    report = run_benchmarks(quick=True, browser=True)
    for heading in ("1. One drawing", "2. Training throughput", "3. Robustness", "4. Start-up",
                    "5. Drawing in a real browser", "The shipped models"):
        assert f"## {heading}" in report
    assert re.search(r"\| seed \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+ ms \| \d+× \|", report)
    assert re.search(r"\| \*\*ratio\*\*.*\| \*\*[\d.]+\*\* \|", report)
    assert re.search(r"\| improved \| [\d.]+% \| [\d.]+% \|", report)
    assert re.search(r"median over 3 strokes \| \d+ ms", report)
