"""Side-by-side benchmark: Qlib's IGMTF against ``IGMTFRegressor`` on the same data.

Usage (from the repository root, with ``pyqlib`` importable, e.g. the bench venv)::

    python benchmarks/vs_qlib.py [--data-dir DIR] [--threads 1] \
        [--train 2016-01-01:2018-12-31] [--valid 2019-01-01:2019-12-31] \
        [--test 2020-01-01:2020-12-31] [--pretrain-epochs 1] [--epochs 2] [--seed 0]

Every stage runs in a subprocess of its own, one after the other, so that each
reports its own peak RSS and none slows another down:

1. ``prep-ours``: our pipeline prepares the data ONCE (``load_qlib(members_only=False)``
   -> ``Alpha360`` -> ``forward_return``; ``RobustZScoreNorm(clip)`` fitted on the
   train segment -> ``Fillna``; training / validation labels: rows without a label
   dropped (``DropnaLabel``) and ``cs_rank_norm`` (``CSRankNorm``)). The float32
   matrices are written to the work directory and are what both frameworks train on.
2. ``prep-qlib``: Qlib's own handler prepares the same segments (``qlib.init`` +
   ``DataHandlerLP`` with the Alpha360 expressions minus ``vwap``, RobustZScoreNorm,
   Fillna, DropnaLabel, CSRankNorm + ``DatasetH.prepare``), timed for the data-prep
   ratio; its output is then compared with ours (and discarded).
3. ``fit-ours``: ``IGMTFRegressor`` pretrains its GRU inside ``fit`` (timed per
   epoch) and saves it; then a second ``IGMTFRegressor(pretrained=<that file>,
   pretrain_epochs=0)`` trains IGMTF (head-to-head stage) and predicts the test
   segment.
4. ``fit-qlib``: Qlib's ``GRU`` trains for the same number of pretraining epochs
   (timed; its weights are not used), then Qlib's ``IGMTF`` starts from OUR saved
   GRU weights (the identical checkpoint), trains on a ``DatasetH`` over a static
   frame holding the identical matrices and labels, and predicts the test segment.

Qlib's known bugs are worked around here, not patched in Qlib: its IGMTF builds the
pretrained base with ``GRUModel()`` (``d_feat=6``), so the harness rebinds that name
in ``qlib.contrib.model.pytorch_igmtf`` to a ``GRUModel`` of the right shape; its
``metric=""`` raises, so ``metric="ic"`` (Qlib's benchmark setting) is used; days with
a single row crash its ``forward`` (``squeeze``), so days with fewer than 2 rows are
dropped from every segment for both frameworks (the count is printed).

Test IC / rank IC / ICIR / rank ICIR of both frameworks' test predictions are computed
by the same code (``igmtf_sklearn.metrics.ic_summary``) against the raw label.

This script parses the arguments and runs the stages; the stages live in
``_vs_qlib_prep.py`` (1, 2) and ``_vs_qlib_fit.py`` (3, 4), what they share in
``_vs_qlib_common.py``, and the tables in ``_vs_qlib_tables.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _vs_qlib_fit import stage_fit_ours, stage_fit_qlib
from _vs_qlib_prep import stage_prep_ours, stage_prep_qlib
from _vs_qlib_tables import accuracy_table, build_table, details, seed_results

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cn_csi300"


def _segment(text):
    start, _, end = text.partition(":")
    if not start or not end:
        raise argparse.ArgumentTypeError(f"expected START:END, got {text!r}")
    return start, end


STAGES = {
    "prep-ours": stage_prep_ours,
    "prep-qlib": stage_prep_qlib,
    "fit-ours": stage_fit_ours,
    "fit-qlib": stage_fit_qlib,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("IGMTF_DATA_DIR", str(DEFAULT_DATA_DIR))
    )
    parser.add_argument("--market", default="csi300")
    parser.add_argument("--train", type=_segment, default=("2016-01-01", "2018-12-31"))
    parser.add_argument("--valid", type=_segment, default=("2019-01-01", "2019-12-31"))
    parser.add_argument("--test", type=_segment, default=("2020-01-01", "2020-12-31"))
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2, help="IGMTF epochs")
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--our-batch-size",
        type=int,
        default=None,
        help="IGMTFRegressor(batch_size=...): rows per memory-bank and validation block "
        "(default: the estimator's own)",
    )
    parser.add_argument(
        "--our-bank-refresh",
        choices=("epoch", "training_pass"),
        default="epoch",
        help="IGMTFRegressor(bank_refresh=...): 'epoch' (Qlib's exact bank, the default) or "
        "'training_pass' (the bank from the training steps' own hidden states)",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        help="comma-separated seeds for the accuracy comparison: fit-ours and fit-qlib run "
        "once per seed (results in WORKDIR/seed<k>/), then a table of test ICs with the "
        "seed-to-seed spread is printed; replaces --seed",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="fit stages run at the same time (with --seeds)"
    )
    parser.add_argument(
        "--accuracy-only",
        action="store_true",
        help="skip what only times Qlib and cannot change its model: its GRU pretraining "
        "(its weights are never used) and its per-epoch re-scoring of the training set",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (and Qlib kernels)")
    parser.add_argument("--workdir", default=None, help="default: a fresh temporary directory")
    parser.add_argument(
        "--stages",
        default="prep-ours,prep-qlib,fit-ours,fit-qlib",
        help="comma-separated subset, in this order (prep-ours and fit-ours feed the others); "
        "with --seeds, an empty list just prints the table of the results in the work dir",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for the stages")
    parser.add_argument("--json", default=None, help="also write all results to this file")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--outdir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage:
        args.outdir = args.outdir or args.workdir
        STAGES[args.stage](args)
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vs_qlib_"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads),
        MLFLOW_ALLOW_FILE_STORE="true",  # mlflow >= 3.1x refuses a file store otherwise
        PYTHONWARNINGS="ignore",
    )
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])]
    results = {}
    print(f"work dir {workdir}; torch threads = Qlib kernels = {args.threads}", flush=True)
    stages = [stage for stage in args.stages.split(",") if stage]
    seeds = _seed_list(args.seeds)
    for stage in stages:
        if seeds and stage.startswith("fit-"):
            continue  # run per seed below
        cmd = [args.python, __file__, *passthrough, "--workdir", str(workdir), "--stage", stage]
        _run_stages([(stage, cmd)], env, jobs=1)
        results[stage] = json.loads((workdir / f"{stage}.json").read_text())
    if seeds:
        _run_seeds(args, seeds, [s for s in stages if s.startswith("fit-")], passthrough, env)
        print()
        print(accuracy_table(workdir, seeds))
        if args.json:
            Path(args.json).write_text(
                json.dumps({"args": vars(args), "results": seed_results(workdir, seeds)}, indent=1)
            )
        return
    for stage in STAGES:  # stages not run now: earlier results in the same work dir
        path = workdir / f"{stage}.json"
        if stage not in results and path.is_file():
            results[stage] = json.loads(path.read_text())
    import torch

    print()
    print(
        f"Qlib {_version('qlib')} vs igmtf_sklearn {_version('igmtf_sklearn')}; torch {torch.__version__}, "
        f"{args.threads} torch thread(s) each; train {args.train}, valid {args.valid}, test {args.test}; "
        f"pretrain epochs {args.pretrain_epochs}, IGMTF epochs {args.epochs}, seed {args.seed}, "
        f"hidden {args.hidden_size} x {args.num_layers}; load average {os.getloadavg()[0]:.2f}"
    )
    print(build_table(results))
    print()
    print(build_table(results, cpu=True))
    print()
    print(details(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"args": vars(args), "results": results}, indent=1, default=str)
        )


# -- several seeds: the accuracy comparison ----------------------------------------
def _seed_list(text):
    return [int(part) for part in text.split(",")] if text else []


def _run_stages(tasks, env, jobs):
    """Run ``(name, cmd)`` stage subprocesses, ``jobs`` at a time; raise on a failure.

    A task whose name starts with ``fit-qlib`` waits for the ``fit-ours`` task of the
    same seed: Qlib's IGMTF starts from the GRU that stage pretrained.
    """
    pending, running, done = list(tasks), {}, set()
    while pending or running:
        for name, cmd in list(pending):
            if len(running) >= jobs:
                break
            needs = name.replace("fit-qlib", "fit-ours")
            if needs != name and any(n == needs for n, _ in tasks) and needs not in done:
                continue
            pending.remove((name, cmd))
            print(f"== {name} ==", flush=True)
            running[name] = (subprocess.Popen(cmd, env=env), time.perf_counter())
        time.sleep(0.5)
        for name, (proc, start) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            print(
                f"== {name}: exit {proc.returncode}, {time.perf_counter() - start:.1f} s",
                flush=True,
            )
            if proc.returncode:
                for other, _ in running.values():
                    other.kill()
                raise SystemExit(f"stage {name} failed (exit {proc.returncode})")
            done.add(name)


def _run_seeds(args, seeds, fit_stages, passthrough, env):
    workdir = Path(args.workdir)
    tasks = []
    for seed in seeds:
        outdir = workdir / f"seed{seed}"
        outdir.mkdir(exist_ok=True)
        for stage in fit_stages:
            cmd = [
                args.python,
                __file__,
                *passthrough,
                "--workdir",
                str(workdir),
                "--outdir",
                str(outdir),
                "--seed",
                str(seed),
                "--stage",
                stage,
            ]
            tasks.append((f"{stage} seed {seed}", cmd))
    _run_stages(tasks, env, jobs=args.jobs)


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:
        return "n/a"


if __name__ == "__main__":
    main()
