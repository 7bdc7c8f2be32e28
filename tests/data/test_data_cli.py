"""``mcr-data``: outputs, and one-line errors with a non-zero exit on bad input."""

import csv
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mcr_train.data.cli import main
from mcr_train.data.scenes import FACTOR_NAMES, render, sample_factors


def test_single_scenes_files_match_the_renderer(tmp_path):
    assert main(["scenes", "--n", "5", "--size", "32", "--seed", "4", "--out", str(tmp_path)]) == 0
    rows = list(csv.DictReader((tmp_path / "factors.csv").read_text().splitlines()))
    assert len(rows) == 5 and set(FACTOR_NAMES) <= set(rows[0])
    scene = render(sample_factors(4, 2), 32)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "images" / "000002.png")), scene.image)
    mask = np.asarray(Image.open(tmp_path / "masks" / "000002_object.png")) > 0
    assert np.array_equal(mask, scene.object_mask)
    assert rows[2]["shape"] == scene.factors.shape


def test_check_prints_counts(capsys):
    assert main(["check", "scenes?n=70&n_test=14"]) == 0
    out = capsys.readouterr().out
    assert "train: 70 images, 7 classes" in out and "test: 14 images" in out


@pytest.mark.parametrize("argv, message", [
    (["check", "nope"], "unknown data spec"),
    (["check", "cifar10:/missing/path"], "cifar-10-batches-py"),
    (["scenes", "--n", "0", "--out", "x"], "--n must be"),
    (["scenes", "--n", "2", "--size", "8", "--out", "x"], "at least 16"),
    (["scenes", "--n", "2", "--coco", "--out", "x"], "needs --multi"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mcr_train.data.cli", "check", "cifar100:/missing"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "cifar-100-python" in proc.stderr
