"""Which of the accuracy campaign's tasks are left, and running them as their inputs appear.

A task is ``(setting, variant, seed)``. It is left when its result file is missing, and it
waits for the files it needs: an IGMTF variant for the GRU pretrained for its
``(setting, seed, base)``, the ``search`` task for its fold fits.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import _accuracy_results as store
import _feature_choice as choice
import _refit as refit
import _walk_forward_search as search
from _accuracy_data import split_name


def plan(settings, variants, seeds, results_dir):
    """Tasks not done yet, each as ``(key, files it waits for)``, in the order to run them."""
    if "choose" in variants:  # the choice is its held-out-year fits, nothing more
        variants = [*choice.tasks(), *(v for v in variants if v != "choose")]
    tasks = []
    for seed in seeds:
        for setting in settings:
            folds = search.fold_tasks() if "search" in variants else []
            # every feature normalisation in use needs its own pretrained GRU first; the
            # choice's fits train their own, so a run of them alone pretrains nothing
            bases = {split_name(v)[1] for v in variants if not choice.is_task(v)}
            others = sorted(bases - {"robust"})
            pretrains = ["pretrain"] if "robust" in bases else []
            pretrains += [f"pretrain@{f}" for f in others]
            # a refit retrains a fitted source task: the source runs first
            sources = [refit.source(v) for v in variants if refit.is_task(v)]
            for variant in dict.fromkeys([*pretrains, *folds, *sources, *variants]):
                task = _left(setting, variant, seed, results_dir, folds)
                if task:
                    tasks.append(task)
    return tasks


def _left(setting, variant, seed, results_dir, folds):
    """The task with what it waits for, or None when its files are there already."""
    kind, base = split_name(variant)
    gru = store.pretrained_path(results_dir, setting, seed, base)
    key = (setting, variant, seed)
    if search.is_fold_task(variant):
        done = search.fold_path(results_dir, setting, variant, seed).is_file()
        return None if done else (key, [gru])
    if choice.is_task(variant):  # fits its own GRU on the training years
        return None if choice.path(results_dir, setting, variant, seed).is_file() else (key, [])
    if refit.is_task(variant):  # reuses the epochs its sources kept
        done = refit.path(results_dir, setting, variant, seed).is_file()
        return None if done else (key, refit.needs(results_dir, setting, variant, seed))
    done = store.task_path(results_dir, setting, variant, seed).is_file()
    if done and store.predictions_path(results_dir, setting, variant, seed).is_file():
        return None
    needs = [] if kind == "pretrain" else [gru]
    if variant == "search":
        needs += [search.fold_path(results_dir, setting, f, seed) for f in folds]
    return key, needs


def run(tasks, jobs, command, results_dir):
    """Run ``tasks``, ``jobs`` processes at a time, each as soon as the files it waits for
    exist; ``command(key)`` is a task's command line. Each process gets one thread."""
    print(f"{len(tasks)} task(s) to run, {jobs} at a time", flush=True)
    running = {}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    while tasks or running:
        for key, (proc, started) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[key]
            failed = proc.returncode != 0
            state = f"FAILED (exit {proc.returncode})" if failed else "done"
            print(f"{_now()} {'/'.join(map(str, key))}: {state} in {_mins(started)}", flush=True)
            kind, base = split_name(key[1])
            if failed and kind == "pretrain":
                # Without its GRU no variant of this (setting, seed, base) can run.
                gru = store.pretrained_path(results_dir, key[0], key[2], base)
                tasks = [t for t in tasks if gru not in t[1]]
        ready = [t for t in tasks if all(Path(p).is_file() for p in t[1])]
        while ready and len(running) < jobs:
            task = ready.pop(0)
            tasks.remove(task)
            running[task[0]] = (subprocess.Popen(command(task[0]), env=env), time.perf_counter())
            print(f"{_now()} {'/'.join(map(str, task[0]))}: started", flush=True)
        if not running and tasks:
            raise SystemExit(f"Blocked: {len(tasks)} task(s) wait for a task that failed.")
        time.sleep(2)


def _now():
    return time.strftime("%H:%M:%S")


def _mins(started):
    return f"{(time.perf_counter() - started) / 60:.1f} min"
