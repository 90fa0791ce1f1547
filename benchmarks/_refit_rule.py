"""Whether the refit stays in the recommended configuration: the rule fixed before its fits.

The refit won every setting's valid year judged a year earlier (``A-1``, ``B-1``, ``C-1``)
and lost two of the three years a year later. Remaking the choice on the years a year later
would choose on test, so docs/accuracy.md ("Whether the refit stays") fixed a rule, before
any fit of the settings two years earlier, that a second earlier year decides:

- on each of the six setting-years (``JUDGED``), the refit's gain is the mean over its seeds
  of ``refit@icstop``'s test rank IC minus ``qlib@icstop``'s, seed by seed;
- the refit stays if the mean of the six gains is positive and no setting two years earlier
  (``SECOND_YEAR``) loses by more than one standard error over its seeds;
- otherwise the recommended configuration drops it (``refit=False``).

Nothing is decided until every second-year setting has its seeds (``SECOND_YEAR_SEEDS``).
"""

from __future__ import annotations

import _refit as refit

#: The setting-years the rule averages over, and those it also asks not to lose.
FIRST_YEAR = ("A-1", "B-1", "C-1")
SECOND_YEAR = ("A-2", "B-2", "C-2")
JUDGED = FIRST_YEAR + SECOND_YEAR
#: The seeds each second-year setting needs before the rule decides.
SECOND_YEAR_SEEDS = (0, 1, 2)
SOURCE, TASK = f"{refit.SOURCE}@icstop", "refit@icstop"


def gains(results_dir, setting):
    """``{seed: refit's test rank IC - its source's}`` over the seeds both have."""
    found = {}
    for (variant, seed), record in sorted(refit.records(results_dir, setting).items()):
        compared = (
            refit._test_scores(results_dir, setting, SOURCE, seed) if variant == TASK else None
        )
        if compared is not None:
            found[seed] = record["test"]["Rank IC"] - compared["Rank IC"]
    return found


def loses(gain, se):
    """Whether a gain is a loss by more than one standard error (never with one seed)."""
    return gain < -se


def decide(gains_by_setting):
    """``(verdict, mean gain or None, {setting: (mean, standard error)})`` from
    ``{setting: {seed: gain}}``; the verdict is ``"stays"``, ``"dropped: <why>"`` or
    ``"waiting for: <what>"``."""
    import numpy as np

    missing = [s for s in FIRST_YEAR if not gains_by_setting.get(s)]
    for setting in SECOND_YEAR:
        left = [k for k in SECOND_YEAR_SEEDS if k not in gains_by_setting.get(setting, {})]
        if left:
            missing.append(f"{setting} seed(s) {', '.join(map(str, left))}")
    summary = {}
    for setting in JUDGED:
        d = np.array(list(gains_by_setting.get(setting, {}).values()))
        if len(d):
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
            summary[setting] = (float(d.mean()), float(se))
    if missing:
        return f"waiting for: {'; '.join(missing)}", None, summary
    mean = float(np.mean([summary[s][0] for s in JUDGED]))
    losers = [s for s in SECOND_YEAR if loses(*summary[s])]
    if mean <= 0:
        return f"dropped: the mean gain over the six setting-years is {mean:+.4f}", mean, summary
    if losers:
        return (
            f"dropped: {', '.join(losers)} lose(s) by more than one standard error",
            mean,
            summary,
        )
    return "stays", mean, summary


def decide_from(results_dir):
    """``decide`` on the committed results: ``(verdict, mean gain, summary, gains)``."""
    found = {setting: gains(results_dir, setting) for setting in JUDGED}
    return (*decide(found), found)


def rule_table(decided):
    """Markdown: each setting-year's gain (mean +- standard error over seeds), its seeds,
    whether a second-year setting loses by more than one standard error, then the verdict;
    ``decided`` is what ``decide_from`` returned (the caller also acts on its verdict)."""
    import numpy as np

    verdict, mean, summary, found = decided
    lines = [
        f"| setting | seeds | `{TASK}` - `{SOURCE}`, test rank IC | loses by more than one s.e. |",
        "|---" * 4 + "|",
    ]
    for setting, (gain, se) in summary.items():
        seeds = ",".join(map(str, found[setting]))
        loss = ("yes" if loses(gain, se) else "no") if setting in SECOND_YEAR else "(not asked)"
        if np.isnan(se):  # one seed: no standard error, nothing to judge a loss by yet
            se, loss = "-", "one seed: not yet" if setting in SECOND_YEAR else loss
        else:
            se = f"{se:.4f}"
        lines.append(f"| {setting} | {seeds} | {gain:+.4f} +- {se} | {loss} |")
    average = "not yet" if mean is None else f"{mean:+.4f}"
    lines += ["", f"Mean gain over the six setting-years: {average}. The refit: **{verdict}**."]
    return "\n".join(lines)
