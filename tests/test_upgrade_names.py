"""`train --upgrade` renames runs named in the questions' former vocabulary (s002-*, families "000"/"002"), files
unchanged but the record's names, and a rename killed halfway is finished by the next one."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from aecompare.registry import FORMER_FAMILIES, FORMER_NAMES
from aecompare.store import artifacts
from aecompare.store.catalog import load_catalog
from aecompare.training import upgrade

OLD_NAMES = {new: old for old, new in FORMER_NAMES.items()}
OLD_FAMILIES = {new: old for old, new in FORMER_FAMILIES.items()}


def in_former_names(experiment: dict) -> dict:
    arch = experiment["arch"]
    return {**experiment, "name": OLD_NAMES.get(experiment["name"], experiment["name"]),
            "arch": {**arch, "family": OLD_FAMILIES[arch["family"]]}}


def write_as_before(models: Path) -> None:
    """Turn a models folder back into what an older version wrote: every run's experiment, settings and
    trained_with in the former vocabulary, q3-* folders named s002-*, the manifest to match."""
    doc = artifacts.read_manifest_doc(models)
    entries = []
    for entry in doc["models"]:
        experiment = in_former_names(entry["experiment"])
        run_dir = models / entry["path"]
        record = json.loads((run_dir / "history.json").read_text())
        record["experiment"] = experiment
        record["settings"] = {**record["settings"], "name": experiment["name"],
                              "family": experiment["arch"]["family"]}
        record["trained_with"] = [OLD_NAMES.get(r.split("/")[0], r.split("/")[0]) + r[len(r.split("/")[0]):]
                                  for r in record["trained_with"]]
        (run_dir / "history.json").write_text(json.dumps(record, separators=(",", ":")))
        path = f"{experiment['name']}/{run_dir.name}"
        if path != entry["path"]:
            (models / experiment["name"]).mkdir(exist_ok=True)
            run_dir.rename(models / path)
            shutil.rmtree(run_dir.parent) if not any(run_dir.parent.iterdir()) else None
        files = {f: hashlib.sha256((models / path / f).read_bytes()).hexdigest() for f in entry["files"]}
        entries.append({**entry, "name": experiment["name"], "path": path, "files": files,
                        "experiment": experiment})
    artifacts.write_manifest(models, entries, doc)


@pytest.fixture
def before_and_after(tiny_models, tmp_path) -> tuple[Path, Path]:
    """(the tiny models as this version writes them, a copy as an older version wrote them)."""
    now, old = tmp_path / "now", tmp_path / "old"
    shutil.copytree(tiny_models, now)
    shutil.copytree(tiny_models, old)
    write_as_before(old)
    assert any(e["name"].startswith("s002-") for e in artifacts.read_manifest(old))
    return now, old


def assert_same_runs(now: Path, upgraded: Path) -> None:
    a, b = load_catalog(now), load_catalog(upgraded)
    assert b.problems == [] and [(r.name, r.seed) for r in b.runs] == [(r.name, r.seed) for r in a.runs]
    for x, y in zip(a.runs, b.runs):
        assert x.exp == y.exp and y.entry["path"].startswith(f"{x.name}/seed-{x.seed}-")
        assert {f: h for f, h in x.entry["files"].items() if f != "history.json"} == \
               {f: h for f, h in y.entry["files"].items() if f != "history.json"}
        assert all(np.array_equal(p.kernel, q.kernel) for p, q in zip(x.layers, y.layers))
        assert x.history == y.history
    assert not any(p.name.startswith("s002-") for p in upgraded.iterdir())
    assert not list(upgraded.glob(f"*/{artifacts.STAGING_PREFIX}*"))


def test_upgrade_renames_every_run_of_the_former_vocabulary(before_and_after, capsys):
    now, old = before_and_after
    assert upgrade.main(old) == 0
    out = capsys.readouterr().out
    assert out.count("renamed ") == len(artifacts.read_manifest(now))  # every run: its net's family was renamed
    assert_same_runs(now, old)
    assert upgrade.main(old) == 0 and "renamed" not in capsys.readouterr().out  # nothing left to do


def test_a_rename_killed_after_publishing_is_finished_by_the_next_upgrade(before_and_after, monkeypatch):
    now, old = before_and_after
    original = artifacts.write_manifest

    def killed_before_dropping_a_former_name(models_dir, entries, doc=None):
        names = {e["name"] for e in artifacts.read_manifest(models_dir)}
        if any(former in names and name in names for former, name in FORMER_NAMES.items()):
            raise KeyboardInterrupt("killed")  # the new run is published, the old one not yet dropped
        original(models_dir, entries, doc)

    monkeypatch.setattr(artifacts, "write_manifest", killed_before_dropping_a_former_name)
    with pytest.raises(KeyboardInterrupt):
        upgrade.main(old)
    monkeypatch.setattr(artifacts, "write_manifest", original)
    halfway = load_catalog(old)
    assert halfway.problems == []  # both the old run and the new one load
    assert {r.name for r in halfway.runs} >= {"s002-sigmoid-mse", "q3-sigmoid-mse"}
    assert upgrade.main(old) == 0
    assert_same_runs(now, old)
