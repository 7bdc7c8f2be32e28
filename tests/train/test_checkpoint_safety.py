"""Atomic checkpoint writes (a process killed mid-save leaves the previous file loadable) and resume
discovery when ``last_checkpoint`` is damaged."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from mcr_train.engine.checkpoint import atomic_write_bytes, find_resumable_checkpoint

CHILD = textwrap.dedent("""
    import os, signal, sys, torch
    from mmengine.runner.checkpoint import save_checkpoint
    from mcr_train.engine.checkpoint import ATOMIC_BACKEND

    path = sys.argv[1]
    args = dict(backend_args=dict(backend=ATOMIC_BACKEND))
    save_checkpoint({"state_dict": {"w": torch.zeros(1000)}, "tag": 1}, path, **args)

    def killed_during_save(fd):  # the new bytes are in the temp file, the rename has not happened
        os.kill(os.getpid(), signal.SIGKILL)

    os.fsync = killed_during_save
    save_checkpoint({"state_dict": {"w": torch.ones(1000)}, "tag": 2}, path, **args)
""")


def test_kill_during_save_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "iter_2.pth"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["tag"] == 1 and torch.equal(ckpt["state_dict"]["w"], torch.zeros(1000))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "iter_2.pth"]
    assert all(name.startswith(".iter_2.pth.") and name.endswith(".tmp") for name in leftovers)


def test_atomic_write_replaces_content(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_resume_discovery_survives_a_damaged_pointer(tmp_path):
    for i in (2, 10, 4):
        (tmp_path / f"iter_{i}.pth").write_bytes(b"x")
    assert find_resumable_checkpoint(tmp_path) == tmp_path / "iter_10.pth"
    (tmp_path / "last_checkpoint").write_text(str(tmp_path / "iter_4.pth"))
    assert find_resumable_checkpoint(tmp_path) == tmp_path / "iter_4.pth"
    (tmp_path / "last_checkpoint").write_text("")  # truncated by a crash
    assert find_resumable_checkpoint(tmp_path) == tmp_path / "iter_10.pth"
    assert find_resumable_checkpoint(tmp_path / "missing") is None


def test_checkpoint_writes_are_world_readable(tmp_path):
    target = tmp_path / "iter_2.pth"
    atomic_write_bytes(target, b"payload")
    assert target.read_bytes() == b"payload" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["iter_2.pth"]  # no temp file left behind
