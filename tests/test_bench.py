"""The benchmark report's format, from made-up sections (running the measurements takes minutes;
`python -m mnist_cnn bench --quick` does that). No timing assertions."""

import importlib

import pytest

from mnist_cnn import store
from mnist_cnn.bench import AREAS, report

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


@pytest.mark.parametrize("area", AREAS)
def test_every_area_module_offers_its_sections(area):
    module = importlib.import_module(f"mnist_cnn.bench.{area}")
    assert callable(getattr(module, "sections", None)) or callable(getattr(module, "section", None))
