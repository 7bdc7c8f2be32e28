"""A corrupt COCO instances file ends ``mcr-eval detect`` with one line naming the file, before any training."""

from __future__ import annotations

import json
import shutil

import pytest

from mcr_eval.cli import main
from mcr_eval.transfer.coco_json import check_coco_instances
from mcr_train.errors import DataError

from .conftest import SCENES_CONFIG

GOOD = {"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}], "annotations": [],
        "categories": [{"id": 1, "name": "square"}]}
BROKEN = {
    "truncated": ('{"images": [{"id": 1', "is not valid JSON"),
    "empty": ("", "is not valid JSON"),
    "list": ("[1, 2]", "holds a JSON list, not an object"),
    "no images": (json.dumps({k: v for k, v in GOOD.items() if k != "images"}), "has no 'images' entry"),
    "no annotations": (json.dumps({"images": []}), "has no 'annotations', 'categories' entries"),
    "images not a list": (json.dumps({**GOOD, "images": {"1": {}}}), "'images' must be a list"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_check_names_the_file_and_the_problem(tmp_path, case):
    text, problem = BROKEN[case]
    path = tmp_path / "instances.json"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        check_coco_instances(path)
    message = str(info.value)
    assert message.startswith(f"annotation file '{path}'") and problem in message and "re-export" in message
    path.write_text(json.dumps(GOOD))
    assert check_coco_instances(path) == GOOD


def test_detect_with_a_corrupt_instances_file_is_one_line(r18_export, scenes_root, tmp_path, capsys):
    root = tmp_path / "scenes"
    shutil.copytree(scenes_root, root)
    (root / "val" / "instances.json").write_text('{"images": [')
    out = tmp_path / "results.jsonl"
    with pytest.raises(SystemExit) as info:
        main(["detect", str(r18_export), "--config", str(SCENES_CONFIG), "--data-root", str(root), "--work-dir",
              str(tmp_path / "wd"), "--out", str(out), "--max-iters", "2", "--workers", "0", "--no-checkpoint"])
    assert info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(root / "val" / "instances.json") in errors[0]
    assert "is not valid JSON" in errors[0] and not out.exists()
