"""The accuracy campaign's refits: a fitted model retrained on the days its validation held out.

Qlib's benchmark fits on the training years, stops on the valid year and predicts the test
year with a model that never trained on the year just before it. A user running the model
does what ``GridSearchCV(refit=True)`` does once a choice is made: fit again on every
labelled day, with what validation chose (here the epochs: the GRU's kept pretraining
epoch and IGMTF's kept epoch), and no validation left to stop on. On ``cn_sample500`` the
per-day picture of 2019 is not 2020's (docs/accuracy.md), so the most recent year may be
worth more than the epochs' fine-tuning on it.

Two tasks per source task ``qlib@<base>`` (the GRU pretrained as ``pretrain@<base>``):

- ``refit@<base>``: train + the valid year, scored on test. Its valid figures are in-sample,
  so it is judged on test only, once chosen;
- ``refit_half@<base>``: train + the valid year's first half, scored on its second half,
  next to the source's score on the same days: the choice between the two, made on the
  valid year as every other choice of the campaign. (It is scored on test too.)

The days added stop ``LOOKAHEAD_DAYS`` trading days before the first day scored: their
labels are only known then. Features keep the normalisation fitted on the training years.
Results: ``<results>/<setting>/refit/<variant>_seed<k>.json`` and, beside them,
``preds/<variant>_seed<k>.npz`` (valid and test predictions; valid's in-sample for
``refit``; with ``valid_base``, ``test_base``, the refit's GRU alone), so the main
tables, which score full valid years, leave them out.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import _accuracy_results as store
from _accuracy_data import LOOKAHEAD_DAYS, split_name
from _accuracy_ensembles import seed_groups, whole_group_seeds

#: Task kinds: the valid days each adds to the training days.
KINDS = {"refit": "valid", "refit_half": "first half of valid"}
#: The IGMTF task each refit retrains.
SOURCE = "qlib"


def is_task(variant):
    return split_name(variant)[0] in KINDS


def sources(variant):
    """The tasks whose kept epochs a refit task reuses: ``pretrain@<base>``, ``qlib@<base>``."""
    base = split_name(variant)[1]
    suffix = "" if base == "robust" else f"@{base}"
    return f"pretrain{suffix}", f"{SOURCE}{suffix}"


def path(results_dir, setting, variant, seed):
    """``<results>/<setting>/refit/<variant>_seed<k>.json``."""
    return Path(results_dir) / setting / "refit" / f"{variant}_seed{seed}.json"


def predictions_path(results_dir, setting, variant, seed):
    return Path(results_dir) / setting / "refit" / "preds" / f"{variant}_seed{seed}.npz"


def needs(results_dir, setting, variant, seed):
    """The files a refit task waits for: its sources' results and the source's predictions."""
    files = [store.task_path(results_dir, setting, v, seed) for v in sources(variant)]
    return [*files, store.predictions_path(results_dir, setting, source(variant), seed)]


def source(variant):
    """The IGMTF task a refit task retrains: ``qlib@<base>``."""
    return sources(variant)[1]


def kept_epochs(results_dir, setting, variant, seed):
    """``(GRU pretraining epochs, IGMTF epochs)``: the epochs the sources kept."""
    pretrain, igmtf = (
        json.loads(store.task_path(results_dir, setting, v, seed).read_text())
        for v in sources(variant)
    )
    return store.kept_epoch(pretrain), store.kept_epoch(igmtf)


def split(frames, variant):
    """``(X_fit, y_fit, scored_days)``: the training days plus the valid days the task adds
    (purged ``LOOKAHEAD_DAYS`` before the first day scored), and the valid days it is
    scored on (None for ``refit``, scored on test)."""
    import numpy as np
    import pandas as pd

    X_valid, y_valid = frames["valid"]
    days = X_valid.index.get_level_values(0)
    unique = np.unique(days)
    if split_name(variant)[0] == "refit":
        added, scored = unique[: len(unique) - LOOKAHEAD_DAYS], None
    else:
        half = len(unique) // 2
        added, scored = unique[: half - LOOKAHEAD_DAYS], unique[half:]
    rows = days.isin(added)
    X = pd.concat([frames["train"][0], X_valid[rows]])
    y = pd.concat([frames["train"][1], y_valid[rows]])
    return X, y, scored


def run(results_dir, setting, variant, seed, frames, fit):
    """Refit one task and write its JSON record and predictions; ``fit(X, y,
    pretrain_epochs, epochs)`` is the campaign's refit of the source. Returns the record."""
    pretrain_epochs, epochs = kept_epochs(results_dir, setting, variant, seed)
    X, y, scored = split(frames, variant)
    start, cpu = time.perf_counter(), time.process_time()
    model = fit(X, y, pretrain_epochs, epochs)
    fit_wall, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    preds = _predictions(model, frames)
    base = _refitted_base(model)
    if base is not None:  # the GRU alone, refitted: what the GRU-or-IGMTF option predicts
        preds.update({f"{name}_base": p for name, p in _predictions(base, frames).items()})
    store.savez(predictions_path(results_dir, setting, variant, seed), **preds)
    days = X.index.get_level_values(0)
    record = {
        "setting": setting,
        "variant": variant,
        "source": source(variant),
        "seed": seed,
        "pretrain_epochs": pretrain_epochs,
        "epochs": epochs,
        "fit_days": [str(days.min().date()), str(days.max().date())],
        "test": store.score(frames["test"][1], preds["test"]),
        "fit_wall_s": fit_wall,
        "fit_cpu_s": fit_cpu,
        "machine": store.machine(),
        "commit": store.commit(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if scored is not None:
        record.update(_scored_halves(results_dir, setting, variant, seed, frames, preds, scored))
    store.write_json(path(results_dir, setting, variant, seed), record)
    return record


def _predictions(model, frames):
    """``model``'s valid and test predictions, flat float32."""
    import numpy as np

    return {
        name: np.asarray(model.predict(frames[name][0]), dtype=np.float32).ravel()
        for name in ("valid", "test")
    }


def _refitted_base(model):
    """The GRU the refit pretrained on the same days (the IGMTF's ``pretrained``), or None."""
    base = getattr(model, "pretrained", None)
    return base if hasattr(base, "predict") else None


def _scored_halves(results_dir, setting, variant, seed, frames, preds, scored):
    """The refit's and its source's scores on the valid days ``scored``."""
    import numpy as np

    y_valid = frames["valid"][1]
    rows = y_valid.index.get_level_values(0).isin(scored)
    saved = np.load(store.predictions_path(results_dir, setting, source(variant), seed))
    return {
        "scored_days": [str(scored[0])[:10], str(scored[-1])[:10]],
        "valid_half": store.score(y_valid[rows], preds["valid"][rows]),
        "valid_half_source": store.score(y_valid[rows], saved["valid"][rows]),
    }


# -- table -----------------------------------------------------------------------------
def records(results_dir, setting):
    """``{(variant, seed): record}`` of a setting's refit tasks."""
    folder = Path(results_dir) / setting / "refit"
    found = {}
    for file in sorted(folder.glob("*_seed*.json")):
        record = json.loads(file.read_text())
        found[(record["variant"], record["seed"])] = record
    return found


def refit_table(results_dir, settings, base, reference, whole_groups=False):
    """Markdown table: per setting and measure, the source ``qlib@<base>`` (or
    ``reference``) against its refits over the seeds both have: their means and the
    refit's paired difference (mean +- standard error over seeds). The valid year's
    second half (``refit_half``) is where the choice is made; test (``refit``) is reported.
    With ``whole_groups``, only complete groups of three seeds count, as the out-of-sample
    rows report them: a seed landing mid-group leaves the table as it was."""
    source_name = f"{SOURCE}@{base}"
    measures = [  # (what, refit kind, compared with, metric)
        ("valid 2nd half, rank IC", "refit_half", "valid_half_source", "Rank IC"),
        ("valid 2nd half, IC", "refit_half", "valid_half_source", "IC"),
        ("test, rank IC", "refit", "source test", "Rank IC"),
        ("test, IC", "refit", "source test", "IC"),
        (f"test, rank IC, against `{reference}`", "refit", "reference test", "Rank IC"),
    ]
    lines = [
        "| setting | measure | seeds | compared | refit | d (paired, +- s.e.) | "
        "epochs kept (GRU, IGMTF) |",
        "|---" * 7 + "|",
    ]
    for setting in settings:
        found = records(results_dir, setting)
        for what, kind, compared_key, metric in measures:
            runs = {s: r for (v, s), r in found.items() if v == f"{kind}@{base}"}
            if whole_groups:
                grouped = whole_group_seeds(runs)
                runs = {s: r for s, r in runs.items() if s in grouped}
            if not runs:
                continue
            pairs = {
                s: (_compared(results_dir, setting, r, compared_key, reference), r)
                for s, r in sorted(runs.items())
            }
            pairs = {s: pair for s, pair in pairs.items() if pair[0] is not None}
            if not pairs:
                continue
            seeds = list(pairs)
            compared = [pairs[s][0][metric] for s in seeds]
            scored = "valid_half" if kind == "refit_half" else "test"
            refitted = [pairs[s][1][scored][metric] for s in seeds]
            name = source_name if compared_key != "reference test" else reference
            epochs = "; ".join(f"{runs[s]['pretrain_epochs']}, {runs[s]['epochs']}" for s in seeds)
            lines.append(
                f"| {setting} | {what} | {','.join(map(str, seeds))} | "
                f"`{name}` {_mean(compared)} | `{kind}@{base}` {_mean(refitted)} | "
                f"{_paired(compared, refitted)} | {epochs} |"
            )
    return "\n".join(lines)


def refit_ensembles_table(results_dir, settings, base, reference, baseline="gru", size=3):
    """Markdown table, test only: per setting, ``refit@<base>``'s ensembles of ``size``
    seeds (each complete seed group, its predictions z-scored per day and averaged, as
    ``VotingRegressor`` over ``random_state`` averages), against ``reference``'s single
    seeds (the default fitted once), ``qlib@<base>``'s ensemble of the same seeds (the
    same configuration without the refit) and ``baseline``'s ensemble of the same seeds
    (the GRU alone at equal epochs). Differences are mean +- standard error over the
    seed groups; one group has no standard error."""
    source_name = f"{SOURCE}@{base}"
    columns = [  # (header, metric, compared with)
        (f"vs `{reference}`, one seed", "Rank IC", reference),
        (f"vs `{source_name}`, ensemble", "Rank IC", source_name),
        (f"vs `{baseline}`, ensemble", "Rank IC", baseline),
        (f"IC vs `{reference}`, one seed", "IC", reference),
        (f"IC vs `{baseline}`, ensemble", "IC", baseline),
    ]
    lines = [
        "| setting | seed groups | Rank IC | IC | " + " | ".join(c[0] for c in columns) + " |",
        "|---" * (4 + len(columns)) + "|",
    ]
    for setting in settings:
        scored = _scored_groups(results_dir, setting, base, reference, baseline, size)
        if not scored:
            continue
        ours = [s[f"refit@{base}"] for s in scored.values()]
        cells = [_mean([o["Rank IC"] for o in ours]), _mean([o["IC"] for o in ours])]
        for _, metric, name in columns:
            compared = [s[name][metric] for s in scored.values()]
            cells.append(_paired(compared, [o[metric] for o in ours]))
        names = ", ".join(f"{g[0]}-{g[-1]}" for g in scored)
        lines.append(f"| {setting} | {names} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scored_groups(results_dir, setting, base, reference, baseline, size):
    """``{group: {name: test scores}}`` for each complete seed group of a setting's
    refits: the refit's ensemble, ``qlib@<base>``'s and ``baseline``'s ensembles of the
    same seeds, and ``reference``'s single seeds' mean. Groups missing any are left out."""
    import numpy as np

    labels = store.load_labels(results_dir, setting)
    refit_name = f"refit@{base}"
    seeds = [s for v, s in records(results_dir, setting) if v == refit_name]
    if labels is None:
        return {}
    test = {"test": labels["test"]}
    scored = {}
    for group in seed_groups(seeds, size):
        scores = {}
        for name in (refit_name, f"{SOURCE}@{base}", baseline):
            path = predictions_path if name == refit_name else None
            tasks = [(name, s) for s in group]
            ensemble = store.averaged(results_dir, setting, tasks, test, path)
            scores[name] = ensemble and ensemble["test"]
        single = [_test_scores(results_dir, setting, reference, s) for s in group]
        if None not in single:
            scores[reference] = {m: np.mean([s[m] for s in single]) for m in ("Rank IC", "IC")}
        if len(scores) == 4 and None not in scores.values():
            scored[group] = scores
    return scored


def _test_scores(results_dir, setting, variant, seed):
    """A task's test scores; None when it has no result."""
    task = store.task_path(results_dir, setting, variant, seed)
    return json.loads(task.read_text())["test"] if task.is_file() else None


def _compared(results_dir, setting, record, key, reference):
    """The scores a refit is compared with: its source's on the same valid days
    (``valid_half_source``), its source's test, or ``reference``'s test; None when that
    task has no result."""
    if key in record:
        return record[key]
    variant = record["source"] if key == "source test" else reference
    return _test_scores(results_dir, setting, variant, record["seed"])


def _mean(values):
    import numpy as np

    return f"{np.mean(values):.4f}"


def _paired(compared, refitted):
    """The refit's paired difference over seeds: ``+d +- se (+x %)``."""
    import numpy as np

    d = np.subtract(refitted, compared)
    se = f"{d.std(ddof=1) / np.sqrt(len(d)):.4f}" if len(d) > 1 else "-"
    return store.paired_text(d.mean(), se, np.mean(compared))
