"""Tests of inference.bench (tiny sizes; no timing assertions)."""

from __future__ import annotations

import pytest

from inference.bench import bench_model, main


def test_bench_model__reports_positive_throughput():
    result = bench_model("s", size_px=32, batch_size=2, batches=1)
    assert result.slices_per_s > 0 and result.size_px == 32


def test_main__model_only_prints_each_size(capsys):
    main(["--model-only", "--sizes", "32", "--batch-size", "1", "--batches", "1"])
    assert "32x32" in capsys.readouterr().out


def test_main__without_mode_exits_with_message():
    with pytest.raises(SystemExit, match="model-only"):
        main([])
    with pytest.raises(SystemExit, match="--stages"):
        main(["--json", "--stages"])
