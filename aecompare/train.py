"""Train the registry's autoencoders on MNIST: `python -m aecompare.train --help`.

    python -m aecompare.train                       # every model, skipping those up to date
    python -m aecompare.train --list                # the registry as a table
    python -m aecompare.train --only norm-sigmoid-mse --epochs 1 --out /tmp/models
    python -m aecompare.train --seeds 5             # seeds 0..4 of every model (the registry trains 0, 1, 2)
    python -m aecompare.train --upgrade             # runs saved as model.keras -> weights.npz
    python -m aecompare.train --ray                 # as Ray tasks on a cluster started here (or --ray HOST:PORT)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .data import DATASETS, DataError, load_dataset
from .formats import format_table
from .registry import REGISTRY, Experiment, model_names, select
from .store import artifacts
from .store.catalog import is_up_to_date, load_catalog
from .training import cluster

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aecompare.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"models to train ({', '.join(model_names())})")
    p.add_argument("--epochs", type=int, help="override every model's epoch count")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help="train with this seed instead of the registry's")
    seeds.add_argument("--seeds", type=int, metavar="K", help="train seeds 0..K-1 of every chosen model")
    p.add_argument("--out", type=Path, default=None, help="models folder (default: $AECOMPARE_MODELS or models/)")
    p.add_argument("--data", help="the dataset's file or folder (an .npz, or the four IDX .gz files), when every "
                                  "chosen model trains on the same dataset")
    p.add_argument("--force", action="store_true", help="retrain models that are up to date")
    p.add_argument("--skip-results", action="store_true",
                   help="do not store the test-set results afterwards (python -m aecompare.evaluate --write does)")
    p.add_argument("--list", action="store_true", help="print the registry and exit")
    p.add_argument("--upgrade", action="store_true",
                   help="convert runs saved in the old format (model.keras) into weights.npz, and exit")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="train as Ray tasks: on a cluster started on this machine (local, the default), or on a "
                        "running one (auto, HOST:PORT)")
    p.add_argument("--chunk", type=int, metavar="N", help="with --ray: at most N runs per task (default: whole "
                                                          "training groups, split so that every CPU has a task)")
    p.add_argument("--task-cpus", type=int, metavar="N",
                   help="with --ray: CPUs per task, and TensorFlow's threads in it (default 1)")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be at least 1")
    if args.seeds is not None and args.seeds < 1:
        p.error("--seeds must be at least 1")
    for option, value in (("--chunk", args.chunk), ("--task-cpus", args.task_cpus)):
        if value is not None and args.ray is None:
            p.error(f"{option} needs --ray")
        if value is not None and value < 1:
            p.error(f"{option} must be at least 1")
    args.task_cpus = args.task_cpus or 1
    args.out = args.out or artifacts.default_models_dir()
    return args


def registry_table(exps: list[Experiment]) -> str:
    rows = [{k: v for k, v in e.settings().items() if k != "family"} for e in exps]
    return format_table(rows)


def summary_table(entries: list[dict]) -> str:
    return format_table([{
        "name": e["name"], "seed": e["seed"], "own loss": f"{e['final_loss']:.5g}",
        "MSE [0,1]": f"{e['final_val_mse']:.5f}", "output spread": f"{e['output_spread']:.3f}",
        "diverged": f"at epoch {e['diverged_epoch']}" if e["diverged_epoch"] else "no",
        "seconds": f"{e['seconds']:.1f}",
    } for e in entries])


class Progress:
    """One tqdm bar per model in the group being trained: epoch, loss, ETA."""

    def __init__(self):
        self.bars = {}

    def start(self, exps: list[Experiment]):
        from tqdm import tqdm

        for bar in self.bars.values():
            bar.close()
        self.bars = {e.run_id: tqdm(total=e.epochs, desc=f"{e.run_id:<28}", unit="epoch", position=i,
                                    leave=True, dynamic_ncols=True) for i, e in enumerate(exps)}

    def epoch(self, report):
        bar = self.bars[report.exp.run_id]
        status = {"diverged": f"epoch {report.epoch}"} if report.diverged else {}
        bar.set_postfix(val_loss=f"{report.val_loss:.4g}", mse01=f"{report.val_mse:.4f}", **status, refresh=False)
        bar.update(bar.total - bar.n if report.diverged else 1)

    def close(self):
        for bar in self.bars.values():
            bar.close()


def print_plan(tasks: list[list[Experiment]], resources: dict) -> None:
    gpus = f", {resources['GPU']:g} GPUs" if resources.get("GPU") else ""
    print(f"Ray: {len(tasks)} task(s) on {resources.get('CPU', 0):g} CPUs{gpus}")
    for task in tasks:
        print(f"  {', '.join(e.run_id for e in task)}")


def print_task_done(report: cluster.TaskReport) -> None:
    print(f"done on {report.node} in {report.seconds:.0f} s: {', '.join(e.run_id for e in report.exps)}", flush=True)


def train_on_ray(args: argparse.Namespace, todo: list[Experiment], datasets: dict) -> list[dict]:
    """Train `todo` on the cluster `args.ray` names, started or joined for this call only."""
    cluster.connect(args.ray)
    try:
        return cluster.train_on_ray(todo, datasets, args.out, chunk=args.chunk, task_cpus=args.task_cpus,
                                    on_plan=print_plan, on_task_done=print_task_done)
    finally:
        cluster.disconnect()


class Refused(Exception):
    """Why the command stops before or while training, in one line; `code` is its exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def chosen_runs(args: argparse.Namespace) -> list[Experiment]:
    seeds = [args.seed] if args.seed is not None else (list(range(args.seeds)) if args.seeds else None)
    try:
        return select(args.only, seeds=seeds, epochs=args.epochs)
    except KeyError as e:
        raise Refused(e.args[0], code=2) from None


def runs_to_train(args: argparse.Namespace, exps: list[Experiment]) -> list[Experiment]:
    """The chosen runs that are missing or out of date in `args.out` (all of them with --force)."""
    try:
        entries = artifacts.read_manifest(args.out)  # a damaged manifest is reported, never silently replaced
    except artifacts.ArtifactError as e:
        raise Refused(str(e)) from None
    old = [e.run_id for e in exps if "model.keras" in ((artifacts.find_entry(entries, e.name, e.seed) or {})
                                                       .get("files") or {})]
    if old and not args.force:  # retraining them would take the whole registry's time, for nothing
        raise Refused(f"{', '.join(old)} in {args.out} are in the old format (model.keras); convert them with "
                      f"python -m aecompare.train --upgrade --out {args.out} (or retrain them with --force)")
    todo = [e for e in exps if args.force or not is_up_to_date(args.out, e)]
    for e in exps:
        if e not in todo:
            print(f"{e.run_id}: up to date in {args.out} (use --force to retrain)")
    return todo


def load_datasets(args: argparse.Namespace, todo: list[Experiment]) -> dict:
    names = list(dict.fromkeys(e.dataset for e in todo))
    try:
        datasets = {name: load_dataset(name, args.data if len(names) == 1 else None) for name in names}
    except DataError as e:
        raise Refused(str(e)) from None
    for name, data in datasets.items():
        print(f"{DATASETS[name].title} from {data.source}")
    return datasets


def train(args: argparse.Namespace, todo: list[Experiment], datasets: dict) -> list[dict]:
    """Train `todo` in this process, or on the Ray cluster `args.ray` names; their manifest entries."""
    progress = Progress()
    try:
        if args.ray is None:
            from .training.trainer import train_all

            return train_all(todo, datasets, args.out, on_epoch=progress.epoch, on_start=progress.start)
        return train_on_ray(args, todo, datasets)
    except (artifacts.ArtifactError, cluster.ClusterError) as e:
        raise Refused(str(e)) from None
    except OSError as e:
        raise Refused(f"could not write to {args.out}: {e}; nothing in it was changed") from None
    finally:
        progress.close()


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        exps = chosen_runs(args)
        if args.list:
            print(registry_table(exps if args.only or args.seed is not None or args.seeds or args.epochs
                                 else list(REGISTRY)))
            return 0
        if args.upgrade:
            from .training.upgrade import main as upgrade

            return upgrade(args.out)
        if args.ray is not None:
            cluster.require_ray()
        todo = runs_to_train(args, exps)
        if not todo:
            return 0
        if args.ray is not None:
            cluster.check_address(args.ray)  # before loading the data: a cluster that is down fails at once
        datasets = load_datasets(args, todo)
        entries = train(args, todo, datasets)
    except (Refused, cluster.ClusterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "code", 1)
    print()
    print(summary_table(entries))
    catalog = load_catalog(args.out)
    if not args.skip_results:
        from .evaluate import needed_datasets, write_results  # the dashboard reads these instead of computing them

        write_results(catalog, needed_datasets(catalog, None, have=datasets))
    for problem in catalog.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
