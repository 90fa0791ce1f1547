"""``score_power="auto"`` on the campaign's saved predictions: no fit of its own.

The estimators' ``score_power="auto"`` chooses, once training ends, the power ``p`` of
each day's z-scored predictions that the validation days' returns favour, and ``predict``
returns ``sign(z) * |z| ** p``. Every input of that choice is saved already: a refit's
validated fit is its source task ``qlib@<base>`` (same seed, same split), whose valid
predictions are saved, and the refit's test predictions are saved beside it. So each
member of the recommended configuration is replayed exactly here:

- ``p`` = ``choose_power`` of the source's valid predictions against the valid year's
  returns (``labels_zscore.npz``, the day's returns z-scored; a day's Pearson IC is the
  same against the returns);
- its test scores = ``powered_scores`` of the refit's test predictions;
- an ensemble averages its members' scores, as ``VotingRegressor`` does.

Judged on the valid years first: the settings a year earlier (``EARLIER``) choose ``p`` on
their own valid year and are scored on the next, each main setting's valid year.
"""

from __future__ import annotations

import _accuracy_results as store
import _refit as refit
from _accuracy_ensembles import seed_groups

from igmtf_sklearn._utils._panel import day_slices
from igmtf_sklearn.nets._score_power import choose_power, powered_scores

#: The IGMTF task a refit retrains: its valid predictions choose the power.
SOURCE = refit.SOURCE


def save_return_labels(setting, data_root, cache_dir, results_dir):
    """Save a setting's valid returns z-scored per day (``labels_zscore.npz``) where the
    campaign has not: the settings a year earlier only ever trained on ranks."""
    from _accuracy_data import segment_frames

    if store.load_labels(results_dir, setting, "zscore") is None:
        frames = segment_frames(setting, data_root, cache_dir, labels="zscore")
        store.save_labels(frames, results_dir, setting, "zscore")


def judged_on_valid_table(results_dir, settings, base="icstop"):
    """Markdown table: per setting a year earlier, each seed's ``p`` chosen on its valid
    year, and the refit's IC on the next year (its test) without and with it, paired."""
    lines = [
        "| setting | seeds | p chosen | IC, refit | IC, refit with `score_power` | "
        "d (paired, +- s.e.) |",
        "|---" * 6 + "|",
    ]
    for setting in settings:
        members = _members(results_dir, setting, f"{SOURCE}@{base}", f"refit@{base}")
        if not members:
            continue
        test = store.load_labels(results_dir, setting)["test"]
        plain = [store.score(test, m["raw"])["IC"] for m in members.values()]
        powered = [store.score(test, m["scores"])["IC"] for m in members.values()]
        lines.append(
            f"| {setting} | {','.join(map(str, members))} | "
            f"{', '.join(str(m['p']) for m in members.values())} | {refit._mean(plain)} | "
            f"{refit._mean(powered)} | {refit._paired(plain, powered)} |"
        )
    return "\n".join(lines)


def test_table(
    results_dir, settings, base="icstop", reference="qlib", baseline="gru", refitted=True
):
    """Markdown table, test: per setting, the refit's ensembles of three seeds (or, not
    ``refitted``, its source's) with each member's ``score_power="auto"`` against the same
    ensembles without it, against ``reference``'s single seeds, and against ``baseline``'s
    ensembles of the same seeds, as they are and with ``score_power="auto"`` of their own
    (mean +- s.e. over groups)."""
    columns = [  # (header, metric, compared with)
        ("IC vs the same ensemble without `score_power`", "IC", "plain"),
        (f"rank IC vs `{reference}`, one seed", "Rank IC", reference),
        (f"rank IC vs `{baseline}`", "Rank IC", baseline),
        (f"IC vs `{baseline}`", "IC", baseline),
        (f"IC vs `{baseline}` with `score_power`", "IC", f"{baseline}, powered"),
    ]
    lines = [
        "| setting | seed groups | p chosen | Rank IC | IC | "
        + " | ".join(c[0] for c in columns)
        + " |",
        "|---" * (5 + len(columns)) + "|",
    ]
    for setting in settings:
        task = member_task(base, refitted)
        scored, powers = _scored_groups(results_dir, setting, base, reference, baseline, task)
        if not scored:
            continue
        ours = [s["powered"] for s in scored.values()]
        cells = [refit._mean([o["Rank IC"] for o in ours]), refit._mean([o["IC"] for o in ours])]
        for _, metric, name in columns:
            compared = [s[name][metric] for s in scored.values()]
            cells.append(refit._paired(compared, [o[metric] for o in ours]))
        names = ", ".join(f"{g[0]}-{g[-1]}" for g in scored)
        lines.append(f"| {setting} | {names} | {powers} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def once_on_average_table(results_dir, settings, base="icstop"):
    """Markdown table: per setting a year earlier and complete group of three seeds, the
    power applied to each member before averaging (the recommended configuration) against
    one power applied once to the average, chosen as ``score_power="auto"`` would choose it
    on the average of the sources' valid predictions. A power is monotone, so once on the
    average keeps the plain average's order and rank IC; on each member it moves both."""
    columns = [("Rank IC", "rank"), ("IC", "ic")]
    lines = [
        "| setting | seeds | p, each member | p, once | "
        + " | ".join(f"{h}, each member | {h}, once | {h}: once - each member" for h, _ in columns)
        + " |",
        "|---" * (4 + 3 * len(columns)) + "|",
    ]
    for setting in settings:
        for group, powers, p, daily in _once_on_average(results_dir, setting, base):
            cells = []
            for _, metric in columns:
                each, once = daily["each"][metric], daily["once"][metric]
                cells += [f"{each.mean():.4f}", f"{once.mean():.4f}"]
                cells.append(store.daily_paired(each, once))
            seeds = f"{group[0]}-{group[-1]}"
            lines.append(f"| {setting} | {seeds} | {powers} | {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _once_on_average(results_dir, setting, base):
    """``(group, members' powers, the power once, {"each", "once": daily scores})`` per
    complete seed group of the refit."""
    import numpy as np

    source = f"{SOURCE}@{base}"
    members = _members(results_dir, setting, source, f"refit@{base}")
    if not members:
        return
    returns = store.returns_labels(results_dir, setting)
    test = store.load_labels(results_dir, setting)["test"]
    valid_counts = day_slices(returns["valid"].index)[1]
    test_counts = day_slices(test.index)[1]
    for group in seed_groups(list(members)):
        valid_average = np.mean([members[s]["valid"] for s in group], axis=0)
        p = choose_power(valid_average, returns["valid"].to_numpy(), valid_counts)
        plain = np.mean([members[s]["plain"] for s in group], axis=0)
        each = np.mean([members[s]["scores"] for s in group], axis=0)
        daily = {
            "each": store.daily_scores(test, each),
            "once": store.daily_scores(test, powered_scores(plain, test_counts, p)),
        }
        yield group, ", ".join(str(members[s]["p"]) for s in group), p, daily


def _members(results_dir, setting, source, task, seeds=None, test_key="test"):
    """``{seed: {"p", "valid", "raw", "plain", "scores"}}``: each seed's power chosen on
    ``source``'s valid predictions (kept z-scored per day as ``valid``) and ``task``'s test
    predictions without and with it (``task`` a refit, or the source itself; ``test_key``
    ``"test_base"`` reads a refit's own GRU). Seeds missing a file, or a setting without
    returns, are out."""
    import numpy as np

    returns = store.returns_labels(results_dir, setting)
    labels = store.load_labels(results_dir, setting)
    if returns is None or labels is None:
        return {}
    valid_counts = day_slices(returns["valid"].index)[1]
    test_counts = day_slices(labels["test"].index)[1]
    folder = refit.predictions_path if refit.is_task(task) else store.predictions_path
    members = {}
    for seed in range(100) if seeds is None else seeds:
        valid_path = store.predictions_path(results_dir, setting, source, seed)
        test_path = folder(results_dir, setting, task, seed)
        if not (valid_path.is_file() and test_path.is_file()):
            continue
        saved = np.load(test_path)
        if test_key not in saved:
            continue
        valid = np.load(valid_path)["valid"]
        raw = saved[test_key]
        p = choose_power(valid, returns["valid"].to_numpy(), valid_counts)
        members[seed] = {
            "p": p,
            "valid": powered_scores(valid, valid_counts, 1.0),
            "raw": raw,
            "plain": powered_scores(raw, test_counts, 1.0),  # z-scored, as ensembles average
            "scores": powered_scores(raw, test_counts, p),
        }
    return members


def member_task(base, refitted=True):
    """The task whose test predictions each member of the recommended configuration
    scores: the refit of ``qlib@<base>``, or, not ``refitted``, ``qlib@<base>`` itself."""
    return f"refit@{base}" if refitted else f"{SOURCE}@{base}"


def _scored_groups(results_dir, setting, base, reference, baseline, task, size=3):
    """``({group: {name: test scores}}, powers chosen)`` for each complete seed group of
    ``task``: the refit, or its source itself."""
    import numpy as np

    test = store.load_labels(results_dir, setting)
    if test is None:
        return {}, ""
    test = test["test"]
    ours = _members(results_dir, setting, f"{SOURCE}@{base}", task)
    theirs = _members(results_dir, setting, baseline, baseline, seeds=list(ours))
    scored = {}
    for group in seed_groups(list(ours), size):
        single = [refit._test_scores(results_dir, setting, reference, s) for s in group]
        if None in single or any(s not in theirs for s in group):
            continue
        scored[group] = {
            "powered": _ensemble(test, ours, group, "scores"),
            "plain": _ensemble(test, ours, group, "plain"),
            reference: {m: np.mean([s[m] for s in single]) for m in ("Rank IC", "IC")},
            baseline: _ensemble(test, theirs, group, "plain"),
            f"{baseline}, powered": _ensemble(test, theirs, group, "scores"),
        }
    ours_p = ", ".join(str(ours[s]["p"]) for s in sorted(ours))
    return scored, ours_p


def _ensemble(test, members, group, key):
    """Test scores of the mean of the ``group``'s members' ``key`` scores."""
    import numpy as np

    return store.score(test, np.mean([members[s][key] for s in group], axis=0))
