"""``IGMTFRegressor(base_fallback=True)`` measured on years nothing scored.

The GRU-or-IGMTF rule (``_gru_rule``) was adopted on ``A-4``; the estimator option it asked
for chooses per fit, on the fit's own validation days. docs/accuracy.md ("To continue")
fixed how it is measured before any fit of ``A-6`` and ``C-6`` (train 2010-2012, stop on
2013, test 2014) ended:

- each seed's member is what the estimator predicts with: the GRU alone where
  ``pretrain@icstop``'s validation IC at the epoch it kept is above ``qlib@icstop``'s (the
  histories' ``valid_ic``: the scores the estimator compares), that is, the refit's own GRU
  (``test_base``) with the power ``score_power`` chooses on the validated GRU's valid
  predictions; else the recommended configuration's member;
- the gain, per setting: the option's members averaged minus the configuration's, test rank
  IC day by day, mean +- its standard error over the days (the IC's beside it, deciding
  nothing);
- the verdict, by ``_gru_rule.decide``: if no seed takes the GRU, no evidence; else the option
  joins the recommended configuration if the mean gain of the settings where it took the GRU
  is positive and none loses by more than one standard error; otherwise it stays an option,
  not recommended.
"""

from __future__ import annotations

import _accuracy_results as store
import _gru_rule as gru_rule
import _out_of_sample as out_of_sample
import _score_power_tables as replay

SETTINGS = ("A-6", "C-6")
SEEDS = (0, 1, 2)
GRU, IGMTF = gru_rule.GRU, gru_rule.IGMTF
#: The configuration's members are these refits; the option's GRU is the refit's own.
REFIT = replay.member_task("icstop")
#: ``_gru_rule.decide``'s verdicts, as they read for the option.
VERDICTS = {
    "adopted": "joins the recommended configuration",
    "rejected": "stays an option, not recommended",
    "no evidence": "no evidence: no seed took the GRU, so the option stays off",
}


def kept_valid_ic(record):
    """A fit's validation IC at the epoch it kept: what ``base_fallback`` compares."""
    return record["history"][store.kept_epoch(record) - 1]["valid_ic"]


def choices(results, setting):
    """``{seed: (GRU's kept valid IC, IGMTF's, whether the GRU is taken)}``, or the text of
    the fits still missing."""
    found = gru_rule.fits_by_seed(results, setting, SEEDS)
    if isinstance(found, str):
        return found
    chosen = {}
    for seed in SEEDS:
        gru, igmtf = (kept_valid_ic(found[v, seed]) for v in (GRU, IGMTF))
        chosen[seed] = (gru, igmtf, gru > igmtf)  # strictly, as the estimator: a tie keeps IGMTF
    return chosen


def ensembles_daily(results_dir, setting, chosen):
    """``({"option", "configuration": {"rank", "ic": daily Series}}, the option's powers)``
    over the test days, or the text of the files still missing."""
    labels = store.load_labels(results_dir, setting)
    configuration = replay._members(results_dir, setting, IGMTF, REFIT, seeds=SEEDS)
    gru = replay._members(results_dir, setting, GRU, REFIT, seeds=SEEDS, test_key="test_base")
    taken = [seed for seed in SEEDS if chosen[seed][2]]
    if labels is None or len(configuration) < len(SEEDS) or any(s not in gru for s in taken):
        return f"{setting}: the refits (with their GRUs' predictions) and the valid returns"
    option = {seed: gru[seed] if seed in taken else configuration[seed] for seed in SEEDS}
    test = labels["test"]
    daily = {
        "option": out_of_sample.configuration_daily(test, option, SEEDS),
        "configuration": out_of_sample.configuration_daily(test, configuration, SEEDS),
    }
    return daily, [option[seed]["p"] for seed in SEEDS]


def judge(results_dir):
    """Markdown: per setting each seed's choice and the two ensembles' test rank IC and
    IC, then the verdict; or, while a fit or file is missing, what it waits for, and no
    setting's figures."""
    results = store.load_results(results_dir)
    header = [
        f"| setting | seed: valid IC `{GRU}` / `{IGMTF}` | GRU taken on seeds | p chosen | "
        "option rank IC | configuration rank IC | rank IC gain | IC gain |",
        "|---" * 8 + "|",
    ]
    rows, taken, gains, waiting = [], {}, {}, []
    for setting in SETTINGS:
        chosen = choices(results, setting)
        scored = (
            chosen if isinstance(chosen, str) else ensembles_daily(results_dir, setting, chosen)
        )
        if isinstance(scored, str):
            waiting.append(scored)
            continue
        (daily, powers), seeds = scored, [s for s in SEEDS if chosen[s][2]]
        taken[setting] = "GRU" if seeds else "IGMTF"
        if seeds:
            gains[setting] = daily["option"]["rank"] - daily["configuration"]["rank"]
        rows.append(_row(setting, chosen, seeds, powers, daily))
    if waiting:
        return "\n".join([*header, "", f"Waiting for {'; '.join(waiting)}."])
    verdict, _ = gru_rule.decide(taken, gains)
    kind, _, why = verdict.partition(": ")
    verdict = VERDICTS[kind] + (f" ({why})" if why and kind == "rejected" else "")
    return "\n".join([*header, *rows, "", f"{' and '.join(SETTINGS)}: **{verdict}**."])


def _row(setting, chosen, seeds, powers, daily):
    valid = ", ".join(f"{seed}: {g:.4f} / {i:.4f}" for seed, (g, i, _) in chosen.items())
    option, configuration = daily["option"], daily["configuration"]
    cells = [
        valid,
        ", ".join(map(str, seeds)) or "none",
        ", ".join(map(str, powers)),
        f"{option['rank'].mean():.4f}",
        f"{configuration['rank'].mean():.4f}",
        store.daily_paired(configuration["rank"], option["rank"]),
        store.daily_paired(configuration["ic"], option["ic"]),
    ]
    return f"| {setting} | " + " | ".join(cells) + " |"
