"""``mcr-train`` refuses what would lose or mix runs, and reports every bad input as one ``error:`` line
(exit 2) before any data is built and before anything is written.

Covers: a finished or unfinished run in the work dir (``--overwrite``), the per-seed default work dir, a
``last_checkpoint`` relative to the work dir, a truncated or corrupt latest checkpoint under ``--resume``,
bad config values, devices and work dirs, and the stale files a killed run leaves behind.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook

from mcr_train.cli import main, prepare_training, run_training
from mcr_train.engine.workdir import LOCK_NAME, unlock_work_dir
from tests.train.conftest import scenes_config, tiny_options


def fail(capsys, argv) -> str:
    """Run the CLI, expect exit 2 and exactly one ``error:`` line on stderr; return that line."""
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len([line for line in err if line.startswith("error: ")]) == 1, err
    assert err[-1].startswith("error: ")
    return err[-1]


def argv(work_dir, *options, method="simclr", iters=2, extra=()) -> list[str]:
    return [scenes_config(method), "--work-dir", str(work_dir), "--max-iters", str(iters), *extra,
            "--cfg-options", *tiny_options(method, n=8, batch=4), *options]


class Killed(Exception):
    pass


class CrashBefore(Hook):
    """A killed job: raises before iteration ``n`` (its checkpoints up to ``n`` are written)."""

    priority = "VERY_HIGH"

    def __init__(self, n: int):
        self.n = n

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.n:
            raise Killed


def crashed_run(work_dir: Path, at: int = 4, total: int = 6) -> None:
    job = prepare_training(argv(work_dir, "checkpoint_interval=2", "max_keep_ckpts=-1", iters=total))
    job.runner.register_hook(CrashBefore(at))
    with pytest.raises(Killed):
        run_training(job)


# ---- 1. a previous run in the work dir; the per-seed default ---------------------------------------------
def test_finished_run_is_refused_without_overwrite(tmp_path, capsys):
    main(argv(tmp_path, "seed=1"))
    encoder, pointer = (tmp_path / "encoder.safetensors").read_bytes(), (tmp_path / "last_checkpoint").read_text()
    msg = fail(capsys, argv(tmp_path, "seed=2"))
    assert msg == (f"error: work dir {tmp_path} already holds a finished run (encoder.safetensors); "
                   "pass --overwrite to replace it or --work-dir to train elsewhere")
    assert (tmp_path / "encoder.safetensors").read_bytes() == encoder
    assert (tmp_path / "last_checkpoint").read_text() == pointer

    main(argv(tmp_path, "seed=2", extra=["--overwrite"]))
    assert json.loads((tmp_path / "encoder.json").read_text())["seed"] == 2
    assert "removed the previous run's encoder.safetensors" in capsys.readouterr().err


def test_default_work_dir_holds_the_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dirs = []
    for seed in (3, 4):
        args = [scenes_config("simclr"), "--seed", str(seed), "--max-iters", "1", "--cfg-options",
                *tiny_options("simclr", n=8, batch=4)]
        job = prepare_training(args)
        unlock_work_dir(job.work_dir)
        dirs.append(job.work_dir)
    stem = Path(scenes_config("simclr")).stem
    assert dirs == [Path("work_dirs") / stem / "seed3", Path("work_dirs") / stem / "seed4"]


# ---- 5. bad values: one line, before anything is built or written -------------------------------------------
BAD_INPUTS = [
    ("simsiam", ["optimizer.lr=-0.1"], [],
     "error: optimizer.lr must be a number >= 0, got -0.1; set e.g. --cfg-options optimizer.lr=0.1"),
    ("simclr", ["optimizer.lr=-0.1"], [],
     "error: optimizer.lr must be a number >= 0, got -0.1; set e.g. --cfg-options optimizer.lr=0.1"),
    ("simclr", ["optimizer.lr"], [],
     "error: --cfg-options item 'optimizer.lr' is not key=value; write it as optimizer.lr=VALUE, "
     "e.g. optimizer.lr=0.1"),
    ("simclr", ["data.batch_size=abc"], [],
     "error: --cfg-options data.batch_size expects a number like the config's 128, got 'abc'; "
     "pass e.g. data.batch_size=128"),
    ("simclr", ["checkpoint_interval=0"], [],
     "error: checkpoint_interval must be an integer >= 1, got 0; set e.g. --cfg-options checkpoint_interval=1000"),
    ("simclr", [], ["--max-iters", "abc"],
     "error: argument --max-iters: invalid int value: 'abc'; see mcr-train --help"),
]


@pytest.mark.parametrize(("method", "options", "flags", "expected"), BAD_INPUTS)
def test_bad_input_is_one_line_and_writes_nothing(method, options, flags, expected, tmp_path, capsys):
    work = tmp_path / "work"
    args = [scenes_config(method), "--work-dir", str(work), *flags, "--cfg-options",
            *tiny_options(method, n=8, batch=4), *options]
    assert fail(capsys, args) == expected
    assert not work.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_device_cuda_without_gpu(tmp_path, capsys):
    msg = fail(capsys, argv(tmp_path / "work", extra=["--device", "cuda"]))
    assert msg == ("error: --device cuda, but torch sees no CUDA GPU on this machine; "
                   "pass --device cpu (or auto), or run on a machine with a GPU")
    assert not (tmp_path / "work").exists()


def test_unwritable_work_dir_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    msg = fail(capsys, argv(blocker / "run"))
    assert msg == (f"error: work dir {blocker / 'run'} cannot be created: {blocker} is a file, not a folder; "
                   "pass a writable --work-dir")
    if os.geteuid() != 0:  # root writes through permission bits
        locked = tmp_path / "read-only"
        locked.mkdir(mode=0o500)
        msg = fail(capsys, argv(locked))
        assert msg == f"error: work dir {locked} is not writable (Permission denied); pass a writable --work-dir"


def test_nan_loss_stops_with_one_line_and_exports_nothing(tmp_path, capsys):
    work = tmp_path / "work"
    msg = fail(capsys, argv(work, "optimizer.lr=1e30", iters=6))
    assert msg.startswith("error: loss became nan at iteration ")
    assert msg.endswith("lower the learning rate or warm-up, or use fp32 instead of AMP, then rerun with --resume "
                        "(last good checkpoint: none saved yet)")
    assert not (work / "encoder.safetensors").exists()


# ---- 6. stale files of a killed run; a live run holding the work dir --------------------------------------
def test_stale_temporary_files_and_lock_are_cleaned_and_logged(tmp_path, capsys):
    stale = [".iter_4.pth.k2j3h4g5.tmp", ".last_checkpoint.abc_1234.tmp", ".encoder.json.zzzz9999.tmp"]
    for name in stale:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / LOCK_NAME).write_text("12345\n")  # its process was killed: nobody holds the lock
    kept = ["notes.tmp", ".results.jsonl.lock", ".iter_4.pth.tmp", "iter_x.pth.abcdefgh.tmp"]
    for name in kept:
        (tmp_path / name).write_text("user file")
    live = tmp_path / ".encoder.safetensors.live_123.tmp"  # a writer still holds it: kept
    live.write_bytes(b"in flight")
    writer = os.open(live, os.O_RDONLY)
    fcntl.flock(writer, fcntl.LOCK_EX)
    try:
        main(argv(tmp_path))
    finally:
        os.close(writer)
    assert live.is_file()
    err = capsys.readouterr().err
    line = (f"warning: removed stale files left by an interrupted run in {tmp_path}: "
            f"{', '.join(sorted(stale))}, {LOCK_NAME} (pid 12345)")
    assert line in err.splitlines()
    assert line.removeprefix("warning: ") in "".join(p.read_text() for p in tmp_path.glob("*/*.log"))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name in stale + kept + [LOCK_NAME]) == sorted(kept)


def test_a_live_run_holding_the_work_dir_is_refused(tmp_path, capsys):
    holder = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        os.write(holder, b"4242\n")
        msg = fail(capsys, argv(tmp_path))
    finally:
        os.close(holder)
    assert msg == (f"error: work dir {tmp_path} is in use by another mcr-train run (pid 4242); "
                   "wait for it to finish or pass another --work-dir")
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]


def test_every_shipped_config_passes_validation():
    from mmengine.config import Config

    from mcr_train.engine.runner import with_defaults
    from mcr_train.engine.validate import validate_config
    from tests.train.conftest import CONFIGS

    paths = sorted(p for p in CONFIGS.rglob("*.py") if "_base_" not in p.parts)
    assert len(paths) > 50
    for path in paths:
        validate_config(with_defaults(Config.fromfile(str(path))))
