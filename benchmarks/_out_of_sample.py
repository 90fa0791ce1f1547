"""The recommended configuration on years the campaign never scored: the settings a year
and two years later (``_accuracy_data.LATER``; ``A+2`` is ``B-2``, whose test year judged
the refit), scored once from their saved predictions.

Each complete group of three seeds is one row: the recommended configuration (the refit's
ensemble, each member with ``score_power="auto"``, replayed exactly as
``_score_power_tables`` replays it) against ``qlib``'s single fits of the same seeds and
against ``gru``'s ensemble of them. One group has no spread over groups, so each
difference carries the standard error over the test year's days instead: the daily IC
of one, minus the other's on the same day (for ``qlib``, the mean of its single fits'
daily ICs: what one fit of the default gives that day). With two groups or more, one
more row pools them: each day's IC the mean over the groups' ensembles (over every
single fit for ``qlib``), its difference's standard error again over the days.
"""

from __future__ import annotations

import _accuracy_results as store
import _refit as refit
import _score_power_tables as replay
from _accuracy_ensembles import seed_groups

REFERENCE, BASELINE = "qlib", "gru"
#: The stopping rule of the recommended configuration's validated fits (``qlib@icstop``).
STOP = "icstop"
#: The configuration's parts in the order it adds them, then the GRU alone and the
#: pretrained GRUs IGMTF starts from: ``(header, task, how a group of seeds is scored)``.
PARTS = (
    (f"`{REFERENCE}` one seed", REFERENCE, "one seed"),
    (f"`{REFERENCE}` averaged", REFERENCE, "averaged"),
    (f"`{replay.SOURCE}@{STOP}` averaged", f"{replay.SOURCE}@{STOP}", "averaged"),
    ("refitted", f"refit@{STOP}", "averaged"),
    ("with `score_power`: the configuration", None, "the configuration"),
    (f"`{BASELINE}` one seed", BASELINE, "one seed"),
    (f"`{BASELINE}` averaged", BASELINE, "averaged"),
    ("`pretrain` averaged", "pretrain", "averaged"),
    (f"`pretrain@{STOP}` averaged", f"pretrain@{STOP}", "averaged"),
)


def out_of_sample_table(results_dir, settings, refitted=True):
    """Markdown table: per setting a year or two later and complete group of seeds, then over
    all of them, the recommended configuration's test rank IC and IC, and its daily paired
    differences; not ``refitted``, the configuration without the refit (each member its
    source)."""
    columns = [  # (header, metric, compared with)
        (f"rank IC vs `{REFERENCE}`, one seed", "rank", REFERENCE),
        (f"IC vs `{REFERENCE}`, one seed", "ic", REFERENCE),
        (f"rank IC vs `{BASELINE}`", "rank", BASELINE),
        (f"IC vs `{BASELINE}`", "ic", BASELINE),
    ]
    lines = [
        "| setting | test year | seeds | p chosen | Rank IC | IC | "
        f"`{REFERENCE}` rank IC, each seed | " + " | ".join(c[0] for c in columns) + " |",
        "|---" * (7 + len(columns)) + "|",
    ]
    for setting in settings:
        groups = list(_groups(results_dir, setting, refitted))
        for row_groups, daily, powers in groups + _pooled(groups):
            ours = daily["ours"]
            cells = [f"{ours['rank'].mean():.4f}", f"{ours['ic'].mean():.4f}"]
            cells.append(", ".join(f"{s['rank'].mean():.4f}" for s in daily["singles"]))
            for _, metric, name in columns:
                cells.append(store.daily_paired(daily[name][metric], ours[metric]))
            year = str(ours["rank"].index[0])[:4]
            seeds = _seeds_label(row_groups)
            lines.append(f"| {setting} | {year} | {seeds} | {powers} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _seeds_label(groups):
    """``first-last`` where the groups run on without a gap (``0-2``, ``0-5``), else each
    group's (``0-2, 6-8``)."""
    seeds = [seed for group in groups for seed in group]
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(f"{group[0]}-{group[-1]}" for group in groups)


def _mean_daily(dailies):
    """The day-by-day mean of ``{"rank", "ic": daily Series}`` dicts."""
    return {m: sum(d[m] for d in dailies) / len(dailies) for m in ("rank", "ic")}


def _pooled(groups):
    """With two groups or more, one more row over all their seeds: each day's IC of the
    configuration and of ``gru`` the mean over the groups' ensembles, ``qlib``'s the mean
    over all its single fits."""
    if len(groups) < 2:
        return []
    dailies = [daily for _, daily, _ in groups]
    pooled = {name: _mean_daily([d[name] for d in dailies]) for name in ("ours", BASELINE)}
    pooled["singles"] = [single for d in dailies for single in d["singles"]]
    pooled[REFERENCE] = _mean_daily(pooled["singles"])
    every_group = [group for row_groups, _, _ in groups for group in row_groups]
    return [(every_group, pooled, ", ".join(powers for _, _, powers in groups))]


def _groups(results_dir, setting, refitted):
    """``([group], {name: {"rank", "ic": daily Series}}, powers)`` per complete seed group
    whose every file is saved; nothing for a setting without results."""
    import numpy as np

    labels = store.load_labels(results_dir, setting)
    if labels is None:
        return
    test = labels["test"]
    source = f"{replay.SOURCE}@{STOP}"
    ours = replay._members(results_dir, setting, source, replay.member_task(STOP, refitted))
    theirs = replay._members(results_dir, setting, BASELINE, BASELINE, seeds=list(ours))
    for group in seed_groups(list(ours)):
        paths = [store.predictions_path(results_dir, setting, REFERENCE, s) for s in group]
        if not all(p.is_file() for p in paths) or any(s not in theirs for s in group):
            continue
        singles = [store.daily_scores(test, np.load(p)["test"]) for p in paths]
        daily = {
            "ours": configuration_daily(test, ours, group),
            BASELINE: store.daily_scores(
                test, np.mean([theirs[s]["plain"] for s in group], axis=0)
            ),
            REFERENCE: _mean_daily(singles),
            "singles": singles,
        }
        yield [group], daily, ", ".join(str(ours[s]["p"]) for s in group)


def parts_table(results_dir, settings):
    """Markdown table: per setting a year or two later and complete group of seeds (each
    row of ``out_of_sample_table`` but the pooled), the test rank IC / IC of each part of
    the recommended configuration as it adds them (``PARTS``), then of the GRU alone and
    of the pretrained GRUs. "averaged" scores the mean of the seeds' predictions z-scored
    per day, as the ensembles average them; "one seed" is the mean of the single fits'
    scores. A part with a file missing reads ``-``."""
    lines = [
        "| setting | test year | seeds | " + " | ".join(p[0] for p in PARTS) + " |",
        "|---" * (3 + len(PARTS)) + "|",
    ]
    for setting in settings:
        groups = list(_groups(results_dir, setting, refitted=True))
        test = store.load_labels(results_dir, setting)["test"] if groups else None
        for [group], daily, _ in groups:
            cells = [
                _rank_and_ic(daily["ours"])
                if how == "the configuration"
                else _part(results_dir, setting, test, task, group, how)
                for _, task, how in PARTS
            ]
            year = str(daily["ours"]["rank"].index[0])[:4]
            seeds = f"{group[0]}-{group[-1]}"
            lines.append(f"| {setting} | {year} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _part(results_dir, setting, test, task, group, how):
    """``rank IC / IC`` of ``task`` over ``group``'s seeds, scored as ``how`` says."""
    import numpy as np

    if how not in ("one seed", "averaged"):
        raise ValueError(f"how must be 'one seed' or 'averaged', got {how!r}")
    if how == "averaged":
        daily = averaged_daily(results_dir, setting, test, task, group)
        return "-" if daily is None else _rank_and_ic(daily)
    paths = _test_paths(results_dir, setting, task, group)
    if not all(path.is_file() for path in paths):
        return "-"
    return _rank_and_ic(_mean_daily([store.daily_scores(test, np.load(p)["test"]) for p in paths]))


def averaged_daily(results_dir, setting, test, task, seeds):
    """``{"rank", "ic": daily Series}`` of ``task``'s test predictions over ``seeds``, each
    z-scored per day, averaged, as the ensembles average them; None while a file is
    missing."""
    import numpy as np

    from igmtf_sklearn._utils._panel import day_slices
    from igmtf_sklearn.nets._score_power import powered_scores

    paths = _test_paths(results_dir, setting, task, seeds)
    if not all(path.is_file() for path in paths):
        return None
    counts = day_slices(test.index)[1]
    zscored = [powered_scores(np.load(path)["test"], counts, 1.0) for path in paths]
    return store.daily_scores(test, np.mean(zscored, axis=0))


def configuration_daily(test, members, seeds):
    """``{"rank", "ic": daily Series}`` of the recommended configuration's ensemble: the
    ``seeds``' members (``_score_power_tables._members``), each with its power, averaged."""
    import numpy as np

    return store.daily_scores(test, np.mean([members[s]["scores"] for s in seeds], axis=0))


def _test_paths(results_dir, setting, task, seeds):
    folder = refit.predictions_path if refit.is_task(task) else store.predictions_path
    return [folder(results_dir, setting, task, seed) for seed in seeds]


def _rank_and_ic(daily):
    return f"{daily['rank'].mean():.4f} / {daily['ic'].mean():.4f}"
