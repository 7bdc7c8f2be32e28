"""``mcr-train`` around interrupted runs: an unfinished run is not silently restarted, ``last_checkpoint``
is relative to the work dir (a copied work dir resumes from its own files), and ``--resume`` names a truncated
or corrupt latest checkpoint and falls back to the previous good one (or fails in one line)."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from mcr_train.cli import main, prepare_training, run_training
from mcr_train.engine.checkpoint import checkpoint_problem, choose_resume_checkpoint, find_resumable_checkpoint
from tests.train.test_hardening_train import argv, crashed_run, fail


def test_unfinished_run_is_refused_and_flags_conflict(tmp_path, capsys):
    crashed_run(tmp_path)
    msg = fail(capsys, argv(tmp_path))
    assert msg == (f"error: work dir {tmp_path} holds an unfinished run (iter_4.pth); pass --resume to continue "
                   "it, --overwrite to start over, or --work-dir to train elsewhere")
    msg = fail(capsys, argv(tmp_path, extra=["--resume", "--overwrite"]))
    assert msg == "error: --resume continues the run in the work dir and --overwrite replaces it; pass only one"


# ---- 2. last_checkpoint relative to the work dir ------------------------------------------------------------
def test_copied_work_dir_resumes_from_its_own_checkpoint(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    crashed_run(original)
    assert (original / "last_checkpoint").read_text() == "iter_4.pth"
    shutil.copytree(original, copy)
    job = prepare_training(argv(copy, "checkpoint_interval=2", "max_keep_ckpts=-1", iters=6, extra=["--resume"]))
    assert Path(job.runner._load_from) == copy / "iter_4.pth"
    run_training(job)
    assert (copy / "encoder.safetensors").is_file() and not (original / "encoder.safetensors").exists()
    assert (copy / "last_checkpoint").read_text() == "iter_6.pth"


def test_old_absolute_pointer_prefers_the_file_inside_the_work_dir(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    for folder in (original, copy):
        folder.mkdir()
        (folder / "iter_4.pth").write_bytes(b"x")
    (copy / "last_checkpoint").write_text(str(original / "iter_4.pth"))
    assert find_resumable_checkpoint(copy) == copy / "iter_4.pth"
    (copy / "iter_4.pth").unlink()  # only the absolute target is left: still found, as before
    assert find_resumable_checkpoint(copy) == original / "iter_4.pth"


# ---- 3. a truncated or corrupt latest checkpoint ------------------------------------------------------------
def test_checkpoint_problem_finds_truncation_and_damage(tmp_path):
    good = tmp_path / "iter_2.pth"
    torch.save({"state_dict": {"w": torch.arange(4096, dtype=torch.float32)}}, good)
    assert checkpoint_problem(good) is None
    data = good.read_bytes()
    (tmp_path / "iter_4.pth").write_bytes(data[: len(data) // 2])
    assert "not a complete torch checkpoint" in checkpoint_problem(tmp_path / "iter_4.pth")
    damaged = bytearray(data)
    at = data.index(torch.arange(4096, dtype=torch.float32)[1000:1002].numpy().tobytes())
    damaged[at] ^= 0xFF
    (tmp_path / "iter_6.pth").write_bytes(bytes(damaged))
    assert "fails its CRC check" in checkpoint_problem(tmp_path / "iter_6.pth")
    chosen, notices = choose_resume_checkpoint(tmp_path)
    assert chosen == good and len(notices) == 2 and "iter_6.pth" in notices[0] and "iter_4.pth" in notices[1]


def test_resume_falls_back_from_a_truncated_checkpoint(tmp_path, capsys):
    crashed_run(tmp_path)
    latest = tmp_path / "iter_4.pth"
    latest.write_bytes(latest.read_bytes()[:1000])
    capsys.readouterr()
    main(argv(tmp_path, "checkpoint_interval=2", "max_keep_ckpts=-1", iters=6, extra=["--resume"]))
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: checkpoint {latest} is unreadable (not a complete torch checkpoint")
    assert warnings[0].endswith(f"resuming from the previous good checkpoint {tmp_path / 'iter_2.pth'}")
    logs = "".join(p.read_text() for p in tmp_path.glob("*/*.log"))
    assert "resuming from the previous good checkpoint" in logs
    assert (tmp_path / "encoder.safetensors").is_file()
    assert checkpoint_problem(latest) is None  # rewritten by the resumed run


def test_resume_with_only_a_truncated_checkpoint_is_one_error(tmp_path, capsys):
    crashed_run(tmp_path, at=2)
    only = tmp_path / "iter_2.pth"
    only.write_bytes(only.read_bytes()[:1000])
    msg = fail(capsys, argv(tmp_path, "checkpoint_interval=2", iters=6, extra=["--resume"]))
    assert msg.startswith(f"error: checkpoint {only} is unreadable (not a complete torch checkpoint")
    assert msg.endswith(f"and {tmp_path} holds no earlier good checkpoint; drop --resume and pass --overwrite "
                        "to start the run over")
