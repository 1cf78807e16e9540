"""The benchmark report: its format from made-up sections, and one real area run as a user runs
it (`python -m mnist_cnn bench --quick --area numbers`), its tables read back. No timing assertions."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from mnist_cnn.network import store

ROOT = Path(__file__).resolve().parent.parent

SECTIONS = [
    ("One drawing", "Canvas to probabilities. Goal: ≤ 2 ms.",
     ["| model | median |", "| --- | --- |", "| seed | 0.80 ms |", "| improved | 1.90 ms |"]),
    ("Whole numbers", "", ["| spacing | all |", "| --- | --- |", "| touching | 91.0% |"]),
]


def test_sections_are_numbered_in_order_with_their_tables_intact():
    lines = report(SECTIONS, quick=False).splitlines()
    assert lines[0] == "# Benchmarks"
    first, second = lines.index("## 1. One drawing"), lines.index("## 2. Whole numbers")
    title, intro, rows = SECTIONS[0]
    assert lines[first : first + 5 + len(rows)] == [f"## 1. {title}", "", intro, "", *rows, ""]
    assert lines[second : second + 3 + len(SECTIONS[1][2])] == ["## 2. Whole numbers", "", *SECTIONS[1][2], ""]
    assert first < second < lines.index("## The shipped models")


def test_the_shipped_models_close_every_report():
    text = report([], quick=True)
    assert text.splitlines()[0] == "# Benchmarks (quick run: sizes too small to mean anything)"
    for arch, params in (("seed", 63_050), ("improved", 162_378)):
        meta = store.read_meta(store.shipped_model_path(arch))
        assert f"| {arch} | {params:,} | {meta['test_accuracy']:.2%} | {meta['test_loss']:.4f} | " in text


def table_rows(text: str) -> dict[str, list[str]]:
    """Every Markdown table row of the report: its first cell -> the other cells."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            first, *cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[first] = cells
    return rows


def percent(cell: str) -> float:
    return float(re.fullmatch(r"\**(\d+\.\d+)%\**", cell).group(1)) / 100


@pytest.mark.mnist
@pytest.mark.slow
def test_the_numbers_area_measures_and_prints_its_tables():
    done = subprocess.run([sys.executable, "-m", "mnist_cnn", "bench", "--quick", "--area", "numbers"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "## 1. Whole numbers and “not a digit”" in text and "a section that failed" not in text, text
    assert text.index("## 1. Whole numbers") < text.index("## The shipped models")
    rows = table_rows(text)
    per_length = {}
    for spacing in ("generous", "close", "touching", "pen-drawn digits, apart"):
        *cells, share, time = rows[spacing]
        per_length[spacing] = [percent(c) for c in cells]
        assert len(cells) == 5 and all(v * 4 == round(v * 4) for v in per_length[spacing])  # 4 numbers a cell
        assert percent(share) == pytest.approx(sum(per_length[spacing]) / 5, abs=6e-4)
        assert re.fullmatch(r"\d+ ms", time)
    apart = [percent(c) for c in rows["digits apart (generous and close; goal ≥ 97%)"][:5]]
    assert apart == pytest.approx([(g + c) / 2 for g, c in zip(per_length["generous"], per_length["close"])],
                                  abs=6e-4)
    count, flagged, goal = rows["MNIST test digits"]
    assert count == "10,000" and goal == "≤ 1%" and percent(flagged) <= 0.01  # the whole test set, even quick
    kinds = [int(cells[0]) for first, cells in rows.items() if first.startswith("· ")]
    assert rows["held-out non-digits, all"][0] == "60" and sum(kinds) == 60
