"""Ensembles of the accuracy campaign's fits, scored from their saved predictions.

An ensemble averages the predictions of several fits, each z-scored within its day
(``VotingRegressor`` over ``random_state`` does the same up to that scaling). It costs
one fit per member, so these tables stand apart from the equal-budget comparisons:

- ``seed_average_tables``: each variant's seeds averaged, against its single seeds;
- ``replicated_tables``: ensembles of three seeds (0-2, 3-5, ...), each an independent
  replicate, paired against the reference's single seeds and against the reference's
  ensemble of the same seeds (the equal budget);
- ``paired_ensembles_table``: one variant's ensembles against another's of the same seeds
  (``qlib@icstop``, the recommended configuration's validated fits, against the GRU alone);
- ``pooled_table``: every saved model averaged, the ceiling of any ensemble of them.
"""

from __future__ import annotations

import functools

from _accuracy_results import (
    averaged,
    by_variant,
    load_labels,
    paired_text,
    predictions_path,
    returns_labels,
)


def seed_average_tables(results, results_dir, blends, segments=("valid", "test")):
    """Markdown tables by segment: each variant's predictions averaged over its seeds
    (``VotingRegressor`` over ``random_state``), against the mean of the single seeds.

    Each variant's average is scored once, for every segment."""
    import numpy as np

    header = [
        "| setting | variant | seeds | Rank IC, one seed (mean) | Rank IC, seeds averaged | "
        "IC, one seed (mean) | IC, seeds averaged |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = {segment: list(header) for segment in segments}
    by = by_variant(results)
    labels_of = {s: load_labels(results_dir, s) for s in {s for s, _ in by}}  # read once
    for (setting, variant), runs in sorted(by.items()):
        parts = blends.get(variant, (variant,))
        labels = labels_of[setting]
        if len(runs) < 2 or labels is None:
            continue
        tasks = [(v, s) for s in sorted(runs) for v in parts]
        scores = averaged(results_dir, setting, tasks, labels)
        if scores is None:
            continue
        for segment in segments:
            single = {m: np.mean([runs[s][segment][m] for s in runs]) for m in ("Rank IC", "IC")}
            lines[segment].append(
                f"| {setting} | {variant} | {','.join(map(str, sorted(runs)))} | "
                f"{single['Rank IC']:.4f} | {scores[segment]['Rank IC']:.4f} | "
                f"{single['IC']:.4f} | {scores[segment]['IC']:.4f} |"
            )
    return {segment: "\n".join(rows) for segment, rows in lines.items()}


def pooled_table(results, results_dir, groups, reference):
    """Markdown table: per setting, the saved predictions of each group averaged (each
    z-scored within its day).

    ``groups`` maps a row name to a predicate on the variant's name. It bounds what any
    blend or seed average of these models can reach: with ~13 models that learn the same
    signal from the same features, the pooled average is the ceiling of their ensembles.
    Against ``reference``'s mean single-seed rank IC.
    """
    import numpy as np

    lines = [
        f"| setting | models | n | valid Rank IC | vs {reference} | test Rank IC | vs {reference} |",
        "|---|---|---|---|---|---|---|",
    ]
    # blends and "+grown" rows have no prediction file of their own, so they drop out below
    saved = {(r["setting"], r["variant"], r["seed"]) for r in results}
    for setting in sorted({s for s, _, _ in saved}):
        labels = load_labels(results_dir, setting)
        ref = [r for r in results if (r["setting"], r["variant"]) == (setting, reference)]
        if labels is None or not ref:
            continue
        base = {seg: np.mean([r[seg]["Rank IC"] for r in ref]) for seg in ("valid", "test")}
        for name, keep in groups.items():
            tasks = sorted(
                (v, k)
                for s, v, k in saved
                if s == setting and keep(v) and predictions_path(results_dir, s, v, k).is_file()
            )
            scores = averaged(results_dir, setting, tasks, labels) if len(tasks) > 1 else None
            if scores is None:
                continue
            cells = [
                f"{scores[seg]['Rank IC']:.4f} | {scores[seg]['Rank IC'] / base[seg] - 1:+.1%}"
                for seg in ("valid", "test")
            ]
            lines.append(f"| {setting} | {name} | {len(tasks)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_groups(seeds, size=3):
    """The complete groups of ``size`` consecutive seeds (0-2, 3-5, ...) among ``seeds``."""
    seeds = set(seeds)
    top = max(seeds, default=-1)
    groups = [tuple(range(g, g + size)) for g in range(0, top + 1, size)]
    return [g for g in groups if seeds.issuperset(g)]


def whole_group_seeds(seeds, size=3):
    """The seeds among ``seeds`` that belong to a complete group (``seed_groups``)."""
    return {seed for group in seed_groups(seeds, size) for seed in group}


def replicated_tables(results, results_dir, reference, segments=("valid", "test"), size=3):
    """Markdown tables, ``{segment: table}``: per variant, ensembles of ``size`` seeds, one
    per complete group of seeds (0-2, 3-5, ...), mean +- std over these replicates; and per
    replicate, paired, the ensemble minus ``reference``'s single seeds (their mean rank IC:
    what one fit of the default gives) and minus ``reference``'s ensemble of the same seeds
    (the same budget), as mean +- standard error over the replicates both have. Each
    ensemble's predictions are read and scored once, for every segment."""
    by = by_variant(results)
    header = [
        f"| setting | variant | seed groups | Rank IC, ensemble | vs {reference}, one seed "
        f"(paired, +- s.e.) | vs {reference}, ensemble of the same seeds | IC, ensemble |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = {segment: list(header) for segment in segments}
    for setting in sorted({s for s, _ in by}):
        ensembles = _seed_ensembles(by, setting, results_dir, size)
        ref_runs = by.get((setting, reference), {})
        for segment in segments:
            scored = {key: scores[segment] for key, scores in ensembles.items()}
            for variant in dict.fromkeys(v for v, _ in scored):
                row = _replicated_row(scored, variant, reference, ref_runs, segment)
                lines[segment].append(f"| {setting} | {variant} | " + " | ".join(row) + " |")
    return {segment: "\n".join(table) for segment, table in lines.items()}


def paired_ensembles_table(results, results_dir, variant, baseline, size=3):
    """Markdown table: ``variant``'s ensembles of ``size`` seeds minus ``baseline``'s
    ensembles of the same seeds (equal budget), paired over the seed groups both have,
    in rank IC and IC, valid and test, mean +- standard error. Valid's IC also against
    the day's z-scored returns where they are saved (``returns_labels``): the training
    labels are ranks, and the test IC is against the returns."""
    lines = [
        "| setting | seed groups | valid Rank IC | valid IC | valid IC, against the returns "
        "| test Rank IC | test IC |",
        "|---|---|---|---|---|---|---|",
    ]
    by = by_variant(results)
    pair = (variant, baseline)
    columns = [("valid", "Rank IC"), ("valid", "IC"), ("returns", "IC")]
    columns += [("test", "Rank IC"), ("test", "IC")]
    for setting in sorted({s for s, _ in by}):
        ensembles = _seed_ensembles(by, setting, results_dir, size, pair)
        groups = [g for v, g in ensembles if v == variant and (baseline, g) in ensembles]
        if not groups:
            continue
        returns = returns_labels(results_dir, setting)
        if returns is not None:
            valid = {"valid": returns["valid"]}  # test's labels are the returns already
            on_returns = _seed_ensembles(by, setting, results_dir, size, pair, valid)
            for key, scores in on_returns.items():
                ensembles[key]["returns"] = scores["valid"]
        cells = [_paired_difference(ensembles, pair, groups, *column) for column in columns]
        names = ", ".join(f"{g[0]}-{g[-1]}" for g in groups)
        lines.append(f"| {setting} | {names} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _paired_difference(ensembles, pair, groups, segment, metric):
    """Mean +- standard error over ``groups`` of the first of ``pair``'s ensembles minus
    the second's, in ``metric`` on ``segment``; empty where the segment was not scored."""
    import numpy as np

    variant, baseline = pair
    if segment not in ensembles[(variant, groups[0])]:
        return ""
    d = np.array(
        [
            ensembles[(variant, g)][segment][metric] - ensembles[(baseline, g)][segment][metric]
            for g in groups
        ]
    )
    se = f" +- {d.std(ddof=1) / np.sqrt(len(d)):.4f}" if len(d) > 1 else ""
    return f"{d.mean():+.4f}{se}"


def _seed_ensembles(by, setting, results_dir, size, variants=None, labels=None):
    """``{(variant, group): {segment: scores}}`` of a setting's complete seed groups, of
    every variant or of the ``variants`` named; scored against the saved ranked labels,
    or against ``labels`` (``{segment: labels}``)."""
    ensembles = {}
    names = sorted(v for s, v in by if s == setting and (variants is None or v in variants))
    for variant in names:
        for group in seed_groups(by[(setting, variant)], size):
            if labels is None:  # the tables share these: each is scored once, and copied
                scores = _on_ranked_labels(str(results_dir), setting, variant, group)
                scores = None if scores is None else dict(scores)
            else:
                scores = averaged(results_dir, setting, [(variant, s) for s in group], labels)
            if scores is not None:
                ensembles[(variant, group)] = scores
    return ensembles


@functools.cache
def _on_ranked_labels(results_dir, setting, variant, group):
    """The scores of one seed group's ensemble against the setting's saved ranked labels;
    None when its predictions or the labels are missing."""
    labels = _ranked_labels(results_dir, setting)
    if labels is None:
        return None
    return averaged(results_dir, setting, [(variant, s) for s in group], labels)


@functools.cache
def _ranked_labels(results_dir, setting):
    return load_labels(results_dir, setting)


def _replicated_row(scored, variant, reference, ref_runs, segment):
    """The cells after a row's setting and variant: its groups, their mean rank IC and the
    two paired differences, and their mean IC."""
    import numpy as np

    groups = [g for v, g in scored if v == variant]
    rank = np.array([scored[(variant, g)]["Rank IC"] for g in groups])
    ic = np.array([scored[(variant, g)]["IC"] for g in groups])
    one_seed = {
        g: np.mean([ref_runs[s][segment]["Rank IC"] for s in g])
        for g in groups
        if all(s in ref_runs for s in g)
    }
    same_seeds = {g: scored[(reference, g)]["Rank IC"] for g in groups if (reference, g) in scored}
    return [
        ", ".join(f"{g[0]}-{g[-1]}" for g in groups),
        _mean_sd(rank),
        _paired(scored, variant, one_seed),
        "" if variant == reference else _paired(scored, variant, same_seeds),
        _mean_sd(ic),
    ]


def _mean_sd(values):
    sd = f" +- {values.std(ddof=1):.4f}" if len(values) > 1 else ""
    return f"{values.mean():.4f}{sd}"


def _paired(ensembles, variant, base):
    """Mean +- standard error of the variant's ensemble minus ``base`` (``{group: rank
    IC}``) over the groups in ``base``, and the mean as a share of ``base``'s."""
    import numpy as np

    if not base:
        return ""
    d = np.array([ensembles[(variant, g)]["Rank IC"] - ref for g, ref in base.items()])
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return paired_text(d.mean(), se, np.mean(list(base.values())))
