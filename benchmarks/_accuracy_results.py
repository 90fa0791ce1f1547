"""The accuracy campaign's result files, and the tables made from them.

A result is written whole or not at all, with the machine and commit it came from.

Each task writes ``<results>/<setting>/<variant>_seed<k>.json`` (its figures) and
``<results>/<setting>/preds/<variant>_seed<k>.npz`` (its valid and test predictions);
each setting keeps its labels once in ``preds/labels.npz``. The tables need these files
only, not the data: blends (here) and ensembles (``_accuracy_ensembles``) are scored
from the predictions.
"""

from __future__ import annotations

import functools
import json
import platform
import subprocess
import warnings
from pathlib import Path


# -- files -----------------------------------------------------------------------------
def score(y, pred):
    """Daily IC, rank IC and their IRs of ``pred`` against the panel labels ``y``."""
    from igmtf_sklearn.metrics import ic_summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: float(v) for k, v in ic_summary(y, pred).items()}


def task_path(results_dir, setting, variant, seed):
    return Path(results_dir) / setting / f"{variant}_seed{seed}.json"


def predictions_path(results_dir, setting, variant, seed):
    return Path(results_dir) / setting / "preds" / f"{variant}_seed{seed}.npz"


def labels_path(results_dir, setting, labels="rank"):
    """The setting's saved labels, valid's as the tasks trained on ``labels`` saw them:
    ranks, day-z-scored returns (``"zscore"``) or their mean (``"mixed"``)."""
    suffix = "" if labels == "rank" else f"_{labels}"
    return Path(results_dir) / setting / "preds" / f"labels{suffix}.npz"


def write_json(path, record):
    """Write ``record`` whole or not at all: a result file is never partial."""
    from igmtf_sklearn.report import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1, default=float))


def machine():
    """Where a result was measured: platform, CPU model, torch and its thread count."""
    import torch

    return {
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@functools.cache
def commit():
    """The checkout's short commit hash, or None outside a git checkout.

    Read once per process: a task calls it as it starts, so a result records the code it
    ran, not a commit made while it ran.
    """
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def savez(path, **arrays):
    """``numpy.savez_compressed``, the file written whole or not at all."""
    import numpy as np

    from igmtf_sklearn.report import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    # through a file object: given a name, numpy would append ".npz" to the temporary one
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        np.savez_compressed(file, **arrays)


def save_predictions(model, frames, results_dir, setting, variant, seed, labels="rank"):
    """Valid and test predictions (float32, in the frames' row order), and once per setting
    the labels with their days and instruments: enough to score blends and seed averages
    from the committed results alone, without the data."""
    import numpy as np

    preds = {
        name: np.asarray(model.predict(frames[name][0]), dtype=np.float32).ravel()
        for name in ("valid", "test")
    }
    savez(predictions_path(results_dir, setting, variant, seed), **preds)
    save_labels(frames, results_dir, setting, labels)


def save_labels(frames, results_dir, setting, labels="rank"):
    """The frames' valid and test labels with their days and instruments, once per
    setting and kind of label (``labels_path``)."""
    import numpy as np

    path = labels_path(results_dir, setting, labels)
    if path.is_file():
        return
    arrays = {}
    for name in ("valid", "test"):
        y = frames[name][1]
        arrays[f"{name}_y"] = y.to_numpy(dtype=np.float32).ravel()
        arrays[f"{name}_day"] = y.index.get_level_values(0).to_numpy("datetime64[ns]")
        arrays[f"{name}_instrument"] = y.index.get_level_values(1).to_numpy(str)
    savez(path, **arrays)


def pretrained_path(results_dir, setting, seed, base="robust"):
    """The GRU pretrained for ``(setting, seed)`` on a base (its features and stopping rule)."""
    suffix = "" if base == "robust" else f"_{base}"
    return Path(results_dir) / "pretrained" / f"gru_{setting}{suffix}_seed{seed}.pt"


# -- table -----------------------------------------------------------------------------
def load_results(results_dir):
    """Every task's result; a label-reading variant also as ``<variant>+grown``, its
    figures with the bank grown day by day (``valid_grown`` / ``test_grown``)."""
    rows = []
    for path in sorted(Path(results_dir).glob("*/*.json")):
        result = json.loads(path.read_text())
        rows.append(result)
        if "test_grown" in result:
            grown = {**result, "variant": result["variant"] + "+grown"}
            grown.update(valid=result["valid_grown"], test=result["test_grown"])
            rows.append(grown)
    return rows


def kept_epoch(run):
    """The epoch whose weights a fit kept, 1-based: IGMTF restores its best validation IC;
    the GRU (``pretrain``, ``gru``) the best epoch of the rule it stopped on, Qlib's
    validation loss unless its ``monitor`` says otherwise. "-" for blends."""
    history = run.get("history")
    if not history:
        return run.get("best_epoch", "-")
    if run["variant"].split("@")[0] in ("pretrain", "gru"):
        monitor = run["params"].get("monitor", "'valid_loss'").strip("'")
    else:
        monitor = "valid_ic"
    values = [row[monitor] for row in history]
    pick = min if monitor == "valid_loss" else max
    return values.index(pick(values)) + 1


def by_variant(results):
    """``{(setting, variant): {seed: result}}``."""
    by = {}
    for r in results:
        by.setdefault((r["setting"], r["variant"]), {})[r["seed"]] = r
    return by


def build_table(
    results,
    segment,
    order,
    reference,
    metrics=("IC", "Rank IC", "ICIR", "Rank ICIR"),
    paired_metric="Rank IC",
):
    """Markdown table: per setting and variant (``order`` first, then the rest sorted),
    mean +- std over seeds, and the paired difference in ``paired_metric`` against
    ``reference`` (mean +- standard error over the seeds both have)."""
    import numpy as np

    by = by_variant(results)
    order = [*order, *sorted({v for _, v in by} - set(order))]
    lines = [
        f"{segment} | setting | variant | seeds | "
        + " | ".join(metrics)
        + f" | d {paired_metric} vs {reference} (paired, +- s.e.) | epochs (kept) |",
        "|---" * (4 + len(metrics)) + "|---|",
    ]
    lines[0] = "| " + lines[0].split(" | ", 1)[1]
    for setting in sorted({s for s, _ in by}):
        ref = by.get((setting, reference), {})
        for variant in order:
            runs = by.get((setting, variant))
            if not runs:
                continue
            seeds = sorted(runs)
            cells = []
            for m in metrics:
                vals = np.array([runs[s][segment][m] for s in seeds])
                sd = f" +- {vals.std(ddof=1):.4f}" if len(vals) > 1 else ""
                cells.append(f"{vals.mean():.4f}{sd}")
            paired = [s for s in seeds if s in ref]
            if variant != reference and paired:
                m = paired_metric
                d = np.array([runs[s][segment][m] - ref[s][segment][m] for s in paired])
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
                base = np.mean([ref[s][segment][m] for s in paired])
                diff = paired_text(d.mean(), se, base)
            else:
                diff = ""
            epochs = ", ".join(f"{runs[s]['epochs_run']}({kept_epoch(runs[s])})" for s in seeds)
            lines.append(
                f"| {setting} | {variant} | {','.join(map(str, seeds))} | "
                + " | ".join(cells)
                + f" | {diff} | {epochs} |"
            )
    return "\n".join(lines)


# -- blends and seed averages, from the saved predictions ------------------------------
def load_labels(results_dir, setting, labels="rank"):
    """``{segment: labels Series on the panel index}`` saved with the setting's predictions."""
    import numpy as np
    import pandas as pd

    path = labels_path(results_dir, setting, labels)
    if not path.is_file():
        return None
    saved = np.load(path)
    return {
        name: pd.Series(
            saved[f"{name}_y"],
            index=pd.MultiIndex.from_arrays(
                [saved[f"{name}_day"], saved[f"{name}_instrument"]],
                names=["datetime", "instrument"],
            ),
        )
        for name in ("valid", "test")
    }


def day_zscore(pred, y):
    """Predictions standardised within each day, so models of any scale average fairly."""
    import pandas as pd

    days = y.index.get_level_values(0)
    series = pd.Series(pred, index=days)
    grouped = series.groupby(level=0)
    return ((series - grouped.transform("mean")) / grouped.transform("std")).to_numpy()


def averaged_predictions(results_dir, setting, tasks, labels, path=None):
    """``{segment: predictions}``: the day-z-scored average of ``tasks`` (variant, seed),
    in the order of ``labels[segment]``; None when a task's predictions are missing.
    ``path(results_dir, setting, variant, seed)`` finds a task's predictions file; it
    defaults to :func:`predictions_path` (a refit keeps its own in another folder)."""
    import numpy as np

    path = path or predictions_path
    paths = [path(results_dir, setting, v, s) for v, s in tasks]
    if not all(p.is_file() for p in paths):
        return None
    saved = [np.load(p) for p in paths]
    return {
        name: np.mean([day_zscore(p[name], y) for p in saved], axis=0) for name, y in labels.items()
    }


def averaged(results_dir, setting, tasks, labels, path=None):
    """``{segment: IC summary}`` of the day-z-scored average of ``tasks`` (variant, seed);
    ``path`` as in :func:`averaged_predictions`."""
    preds = averaged_predictions(results_dir, setting, tasks, labels, path)
    if preds is None:
        return None
    return {name: score(y, preds[name]) for name, y in labels.items()}


def blend_results(results, results_dir, blends):
    """Result rows for each blend ``{name: parts}`` whose parts are saved, per setting and
    seed: per seed, the average of the parts' predictions, each z-scored within its day."""
    done = {(r["setting"], r["variant"], r["seed"]) for r in results}
    rows = []
    for setting in sorted({r["setting"] for r in results}):
        labels = load_labels(results_dir, setting)
        for name, parts in blends.items() if labels else ():
            for seed in sorted({r["seed"] for r in results if r["setting"] == setting}):
                if not all((setting, v, seed) in done for v in parts):
                    continue
                scores = averaged(results_dir, setting, [(v, seed) for v in parts], labels)
                if scores:
                    rows.append(
                        {
                            "setting": setting,
                            "variant": name,
                            "seed": seed,
                            "epochs_run": "-",
                            "best_epoch": "-",
                            **scores,
                        }
                    )
    return rows


def against_returns(results, results_dir, keep):
    """Result rows of the tasks ``keep(variant)`` selects, their valid predictions scored
    against the day's z-scored returns (``labels_zscore.npz``) instead of their ranks: a
    valid IC comparable across label normalisations, and the same rank IC."""
    import numpy as np

    rows = []
    for setting in sorted({r["setting"] for r in results}):
        labels = returns_labels(results_dir, setting)
        if labels is None:
            continue
        for r in results:
            path = predictions_path(results_dir, setting, r["variant"], r["seed"])
            if r["setting"] == setting and keep(r["variant"]) and path.is_file():
                valid = score(labels["valid"], np.load(path)["valid"])
                rows.append({**r, "valid": valid})
    return rows


def returns_labels(results_dir, setting):
    """The setting's saved labels with valid's the day's z-scored returns, or None when
    either kind is not saved yet (the ranked ones come with the setting's first task) or
    they are not on the same rows, in the same order, as every task's predictions."""
    labels = load_labels(results_dir, setting, "zscore")
    ranked = load_labels(results_dir, setting)
    if labels is None or ranked is None:
        return None
    if not labels["valid"].index.equals(ranked["valid"].index):
        return None
    return labels


def daily_scores(y, pred):
    """The daily IC and rank IC of ``pred`` against ``y``, each a Series by day."""
    import pandas as pd

    from igmtf_sklearn.metrics import daily_ic, daily_rank_ic

    pred = pd.Series(pred, index=y.index)
    return {"ic": daily_ic(y, pred), "rank": daily_rank_ic(y, pred)}


def daily_paired(compared, ours):
    """``+d +- se (+x %)``: the mean daily difference of two daily Series and its standard
    error over days (for one ensemble, which has no spread over seed groups)."""
    import numpy as np

    d = (ours - compared).dropna()
    se = d.std(ddof=1) / np.sqrt(len(d))
    return paired_text(d.mean(), se, compared.mean())


def paired_text(mean, se, base):
    """``+d +- se (+x %)``: a paired difference, its standard error (a number or a text
    such as ``"-"``) and its share of the baseline's mean. A baseline at or below zero
    gets no share: of a wrong-signed baseline, a smaller loss would read as a gain."""
    se = se if isinstance(se, str) else f"{se:.4f}"
    share = f"{mean / base:+.0%}" if base > 0 else "its mean <= 0"
    return f"{mean:+.4f} +- {se} ({share})"
