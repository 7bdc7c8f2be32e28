"""Run each bad input of docs/bad-inputs.md and print the table of what the tools answer.

Usage: ``.venv/bin/python scripts/bad_inputs.py > /tmp/table.md`` (about 3 minutes on 2 cores). Every case
runs the installed console script in a scratch folder and records its exit status and last stderr line, so
the page shows the tools' real messages, not a paraphrase.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from mcr_train.models.backbone import build_backbone

BIN = Path(sys.executable).parent
TRAIN_CFG = str(Path(__file__).resolve().parents[1] / "configs/train/simclr_resnet18-cifar_1xb128-30e_scenes.py")
DETECT_CFG = str(Path(__file__).resolve().parents[1] / "configs/detection/mask-rcnn_r18_fpn_syncbn-1xb4-12e_scenes.py")
TINY = ["model.backbone.width=4", "data.batch_size=4", "data.spec=scenes?n=8"]


def tiny_encoder(folder: Path, width: int = 4, stem: str = "cifar") -> Path:
    """A random-init ResNet-18 (width 4, CIFAR stem unless asked otherwise) in our export format."""
    torch.manual_seed(0)
    model = build_backbone("resnet18", stem, width)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "encoder.safetensors"))
    meta = {"format": "mcr-encoder/1", "method": "simclr", "regularizer": {"type": "none"}, "arch": "resnet18",
            "stem": stem, "width": width, "feature_dim": model.num_features, "input_size": 32,
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "pretrain_data": "scenes", "epochs": 0,
            "iters": 0, "seed": 0}
    (folder / "encoder.json").write_text(json.dumps(meta))
    return folder


def cases(tmp: Path) -> list[tuple[str, list[str]]]:
    """(what is wrong, command) pairs; fixtures are written into ``tmp``."""
    enc = tiny_encoder(tmp / "run")
    finished = tmp / "finished"
    shutil.copytree(enc, finished)
    (tmp / "garbage.pth").write_bytes(b"not a checkpoint at all")
    truncated = tmp / "truncated"
    shutil.copytree(enc, truncated)
    blob = (truncated / "encoder.safetensors").read_bytes()
    (truncated / "encoder.safetensors").write_bytes(blob[: len(blob) // 2])

    class Armed:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"state_dict": Armed()}, tmp / "armed.pth")
    torch.save({"state_dict": {"foo.weight": torch.zeros(3)}}, tmp / "foreign.pth")
    bad_meta = tmp / "bad-meta"
    shutil.copytree(enc, bad_meta)
    meta = json.loads((bad_meta / "encoder.json").read_text())
    meta["width"] = "sixteen"
    (bad_meta / "encoder.json").write_text(json.dumps(meta))
    (tmp / "a-file").write_text("a file where a folder is expected\n")
    only_format = tmp / "only-format"
    shutil.copytree(enc, only_format)
    (only_format / "encoder.json").write_text(json.dumps({"format": "mcr-encoder/1"}))
    from mcr_train.data.export import write_multi_scenes

    r18 = tiny_encoder(tmp / "r18", width=64, stem="imagenet")  # the detection config's backbone
    coco = tmp / "coco"
    write_multi_scenes(coco / "train", n=2, size=64, seed=0, coco=True, progress=False)
    write_multi_scenes(coco / "val", n=1, size=64, seed=1, coco=True, progress=False)
    (coco / "val" / "instances.json").write_text('{"images": [')
    (tmp / "results.jsonl").write_text('{"metric": "knn"\n')
    train = [str(BIN / "mcr-train"), TRAIN_CFG, "--work-dir"]
    knn = [str(BIN / "mcr-eval"), "knn"]
    return [
        ("config file missing", [str(BIN / "mcr-train"), "configs/train/nope.py"]),
        ("negative learning rate", [*train, str(tmp / "w1"), "--cfg-options", *TINY, "optimizer.lr=-0.1"]),
        ("`--cfg-options` item without `=`", [*train, str(tmp / "w2"), "--cfg-options", *TINY, "optimizer.lr"]),
        ("wrong type in `--cfg-options`", [*train, str(tmp / "w3"), "--cfg-options", *TINY, "data.batch_size=abc"]),
        ("checkpoint interval 0", [*train, str(tmp / "w4"), "--cfg-options", *TINY, "checkpoint_interval=0"]),
        ("work dir holds a finished run", [*train, str(finished), "--cfg-options", *TINY]),
        ("loss becomes NaN", [*train, str(tmp / "w7"), "--max-iters", "6", "--cfg-options", *TINY,
                              "data.spec=scenes?n=16", "optimizer.lr=1e30"]),
        ("`--resume` with nothing to resume", [*train, str(tmp / "w5"), "--resume", "--cfg-options", *TINY]),
        ("work dir not writable", [*train, str(tmp / "a-file" / "w"), "--cfg-options", *TINY]),
        *([] if torch.cuda.is_available() else
          [("`--device cuda` without a GPU", [*train, str(tmp / "w6"), "--device", "cuda", "--cfg-options", *TINY])]),
        ("checkpoint path missing", [*knn, str(tmp / "nope.pth"), "--data", "scenes"]),
        ("checkpoint is not a checkpoint", [*knn, str(tmp / "garbage.pth"), "--data", "scenes"]),
        ("truncated `encoder.safetensors`", [*knn, str(truncated), "--data", "scenes"]),
        ("checkpoint carrying pickled code", [*knn, str(tmp / "armed.pth"), "--data", "scenes"]),
        ("foreign checkpoint with no ResNet keys", [*knn, str(tmp / "foreign.pth"), "--data", "scenes"]),
        ("invalid `encoder.json` field", [*knn, str(bad_meta), "--data", "scenes"]),
        ("`encoder.json` with only `format`", [*knn, str(only_format), "--data", "scenes"]),
        ("corrupt COCO `instances.json`", [str(BIN / "mcr-eval"), "detect", str(r18), "--config", DETECT_CFG,
                                           "--data-root", str(coco), "--work-dir", str(tmp / "det"),
                                           "--max-iters", "2", "--workers", "0", "--no-checkpoint"]),
        ("unknown data spec", [*knn, str(enc), "--data", "cifar11:/data"]),
        ("data root missing", [*knn, str(enc), "--data", "cifar10:/nonexistent/cifar"]),
        ("kNN k larger than the training set", [*knn, str(enc), "--data", "scenes?n=100&n_test=20"]),
        ("`--out` not writable", [*knn, str(enc), "--data", "scenes?n=300&n_test=20",
                                  "--out", str(tmp / "a-file" / "r.jsonl")]),
        ("results file missing", [str(BIN / "mcr-eval"), "report", str(tmp / "none.jsonl"), "--out", str(tmp / "rep")]),
        ("results file corrupt", [str(BIN / "mcr-eval"), "report", str(tmp / "results.jsonl"),
                                  "--out", str(tmp / "rep")]),
        ("study config missing", [str(BIN / "mcr-eval"), "study", "configs/studies/nope.py"]),
        ("data spec for `mcr-data check` missing", [str(BIN / "mcr-data"), "check", "stl10:/nonexistent"]),
    ]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    try:
        print("| bad input | exit | message |\n|---|---|---|")
        for what, cmd in cases(tmp):
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env)
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            last = lines[-1] if lines else "(nothing on stderr)"
            last = last.replace(str(tmp), "<tmp>").replace("|", "\\|")
            print(f"| {what} | {proc.returncode} | `{last}` |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
