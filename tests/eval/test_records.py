"""Result records follow docs/contracts.md section 2."""

from __future__ import annotations

import json
import threading

import pytest

from mcr_eval.records import (
    RECORD_KEYS,
    append_records,
    make_record,
    read_records,
    records_for_encoder,
    run_fields,
)


def test_record_schema_and_append(tmp_path):
    meta = {
        "run": "r1",
        "method": "byol",
        "regularizer": {"type": "mcr", "lambda1": 1.0},
        "arch": "resnet18",
        "stem": "cifar",
        "width": 16,
        "pretrain_data": "scenes",
        "epochs": 30,
        "seed": 2,
    }
    recs = records_for_encoder(meta, "knn", "scenes", "test", {"k": 200, "T": 0.1}, {"top1": 0.5, "top5": 0.9}, 100)
    assert [tuple(r) for r in recs] == [RECORD_KEYS, RECORD_KEYS]
    assert recs[0]["backbone"] == "resnet18-cifar-w16" and recs[0]["regularizer"] == "mcr"
    assert recs[1]["metric"] == "top5" and recs[1]["value"] == 0.9 and recs[1]["protocol"]["k"] == 200
    path = tmp_path / "sub" / "results.jsonl"
    append_records(path, recs)
    append_records(path, recs[:1])
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2]) == recs[0]
    assert read_records(path)[1] == recs[1]
    with pytest.raises(ValueError):
        make_record(run_fields(meta), "nonsense", "d", "test", {}, "m", 1.0, 1)


def test_concurrent_appends_keep_every_line(tmp_path):
    path = tmp_path / "results.jsonl"
    run = run_fields({"run": "x"})

    def worker(i):
        for j in range(10):
            append_records(path, [make_record(run, "linear", "d", "test", {"i": i, "j": j}, "top1", 0.1, 5)])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = {(r["protocol"]["i"], r["protocol"]["j"]) for r in read_records(path)}
    assert got == {(i, j) for i in range(4) for j in range(10)}
