"""The GRU alone or IGMTF, chosen per setting-year on its valid year: the rule fixed
before its fits.

On ``A+2``'s 2022 the GRU that IGMTF starts from, stopped on the valid IC
(``pretrain@icstop``), beat IGMTF built on it (``qlib@icstop``); keeping the GRU wherever
its valid year prefers it would have taken it on A, ``A-1`` and ``A+2``. That lead came
from looking at the campaign's setting-years, so it cannot be judged on them.
docs/accuracy.md ("To continue") fixed this rule before any fit of the settings four and
six years earlier (``_accuracy_data.FURTHER_BACK``), whose years no table scored:

- on each setting-year of a round (``ROUNDS``), over ``SEEDS``, the choice is the GRU
  alone if ``pretrain@icstop``'s mean valid rank IC is above ``qlib@icstop``'s, else the
  recommended configuration;
- where it takes the GRU, its gain is the test rank IC of the seeds' ``pretrain@icstop``
  averaged (each z-scored per day) minus the recommended configuration's, day by day, with
  its standard error over the days; where it keeps IGMTF nothing changes;
- the choice is adopted if it took the GRU somewhere, the mean of those gains is positive
  and none of them loses by more than one standard error; otherwise it is rejected;
- a round where it keeps IGMTF everywhere says nothing: the next round is judged alike.
"""

from __future__ import annotations

import _accuracy_results as store
import _out_of_sample as out_of_sample
import _score_power_tables as replay

#: The setting-years each round judges: first those four years earlier (stop on 2015, test
#: 2016), then, only if the first round never takes the GRU, those six years earlier (stop
#: on 2013, test 2014): no round's valid or test year is one an earlier round scored.
ROUNDS = (("A-4", "C-4"), ("A-6", "C-6"))
SEEDS = (0, 1, 2)
GRU, IGMTF = "pretrain@icstop", "qlib@icstop"


def fits_by_seed(results, setting, seeds=SEEDS):
    """``{(variant, seed): record}`` of the GRU's and IGMTF's fits on ``setting``, or, while
    a seed is missing, the text of what is missing."""
    found = {(r["variant"], r["seed"]): r for r in results if r["setting"] == setting}
    missing = {v: [str(s) for s in seeds if (v, s) not in found] for v in (GRU, IGMTF)}
    if any(missing.values()):
        named = [f"{v} seed(s) {', '.join(left)}" for v, left in missing.items() if left]
        return f"{setting}: {' and '.join(named)}"
    return found


def valid_means(results, setting):
    """``{variant: mean valid rank IC over SEEDS}`` for the GRU and IGMTF, or, while a seed
    is missing, the text of what is missing."""
    import numpy as np

    found = fits_by_seed(results, setting)
    if isinstance(found, str):
        return found
    return {
        v: float(np.mean([found[v, s]["valid"]["Rank IC"] for s in SEEDS])) for v in (GRU, IGMTF)
    }


def daily_gain(results_dir, setting):
    """Day by day, the test rank IC of the GRU alone (``SEEDS`` averaged, z-scored per day)
    minus the recommended configuration's (their refits with ``score_power``, averaged), or
    the text of what is missing."""
    labels = store.load_labels(results_dir, setting)
    configuration = replay._members(
        results_dir, setting, IGMTF, replay.member_task("icstop"), seeds=SEEDS
    )
    gru = None
    if labels is not None:
        gru = out_of_sample.averaged_daily(results_dir, setting, labels["test"], GRU, SEEDS)
    if gru is None or len(configuration) < len(SEEDS):
        return f"{setting}: the configuration's refits and valid returns, or {GRU}'s predictions"
    ours = out_of_sample.configuration_daily(labels["test"], configuration, SEEDS)
    return gru["rank"] - ours["rank"]


def decide(choices, gains):
    """``(verdict, {setting: (mean gain, standard error)})`` for one round from
    ``{setting: "GRU" or "IGMTF"}`` and ``{setting: daily gains}`` of the settings that
    took the GRU; the verdict is ``"adopted"``, ``"rejected: <why>"`` or ``"no evidence"``."""
    import numpy as np

    summary = {}
    for setting, daily in gains.items():
        daily = daily.dropna()
        summary[setting] = (float(daily.mean()), float(daily.std(ddof=1) / np.sqrt(len(daily))))
    if "GRU" not in choices.values():
        return "no evidence: it kept IGMTF on every setting-year", summary
    mean = float(np.mean([gain for gain, _ in summary.values()]))
    if mean <= 0:
        return f"rejected: the mean gain where it took the GRU is {mean:+.4f}", summary
    losers = [s for s, (gain, se) in summary.items() if gain < -se]
    if losers:
        return f"rejected: {', '.join(losers)} lose(s) by more than one standard error", summary
    return "adopted", summary


def judge(results_dir):
    """Markdown: each round in turn, as the rule says, on the committed results: its
    choices and gains, then its verdict or what it waits for; the next round only after
    "no evidence"."""
    results = store.load_results(results_dir)
    blocks = []
    for settings in ROUNDS:
        lines, verdict = _round(results_dir, results, settings)
        blocks.append("\n".join(lines))
        if not verdict.startswith("no evidence"):
            break
    return "\n\n".join(blocks)


def _round(results_dir, results, settings):
    """``(markdown lines, verdict)`` of one round; the verdict is ``"waiting"`` while a
    fit or a saved file it needs is missing."""
    lines = [
        f"| setting | valid rank IC, `{GRU}` | `{IGMTF}` | choice | "
        "test rank IC gain over the configuration |",
        "|---" * 5 + "|",
    ]
    choices, gains, rows, waiting = {}, {}, [], []
    for setting in settings:
        means = valid_means(results, setting)
        if isinstance(means, str):
            waiting.append(means)
            continue
        choices[setting] = "GRU" if means[GRU] > means[IGMTF] else "IGMTF"
        rows.append((setting, means))
        if choices[setting] == "GRU":
            daily = daily_gain(results_dir, setting)
            waiting += [daily] if isinstance(daily, str) else []
            gains[setting] = daily
    if waiting:
        return [
            *lines,
            "",
            f"{' and '.join(settings)}: waiting for {'; '.join(waiting)}.",
        ], "waiting"
    verdict, summary = decide(choices, gains)
    for setting, means in rows:
        gain = (
            _gain_text(*summary[setting]) if setting in summary else "none: it is the configuration"
        )
        lines.append(
            f"| {setting} | {means[GRU]:.4f} | {means[IGMTF]:.4f} | {choices[setting]} | {gain} |"
        )
    return [*lines, "", f"{' and '.join(settings)}: **{verdict}**."], verdict


def _gain_text(mean, se):
    return f"{mean:+.4f} +- {se:.4f}"
