"""The accuracy campaign's tables (``accuracy.py --table``), from the committed results alone.

The main tables cover the issue's settings (``MAIN_SETTINGS``); the settings a year earlier
(``EARLIER``) appear only in the tables that judge a choice on each setting's valid year,
and the settings a year or two later (``LATER``) only in the tables out of sample; those
four and six years earlier (``FURTHER_BACK``) only in the tables of the rule, and of the
option it led to, that they judge, and after them in the out-of-sample record.
"""

from __future__ import annotations

import _accuracy_ensembles as ensembles
import _accuracy_results as store
import _base_fallback as base_fallback
import _feature_choice as choice
import _gru_rule as gru_rule
import _out_of_sample as out_of_sample
import _refit as refit
import _refit_rule as refit_rule
import _score_power_tables as score_power
from _accuracy_data import EARLIER, FURTHER_BACK, LATER, MAIN_SETTINGS, split_name
from _accuracy_variants import (
    BLENDS,
    ENSEMBLE_BASE,
    LABELS_COMPARED,
    POOLS,
    PRETRAININGS,
    REFERENCE,
    SCREEN_BASES,
    SPECIAL,
    VARIANTS,
    base_spec,
)


def print_tables(results_dir):
    """Print every table of docs/accuracy.md's results, in its order."""
    results = [r for r in store.load_results(results_dir) if r["setting"] in MAIN_SETTINGS]
    results += store.blend_results(results, results_dir, BLENDS)
    results += choice.chosen_rows(results, results_dir)
    order = [*SPECIAL, REFERENCE, choice.CHOSEN, *[v for v in VARIANTS if v != REFERENCE]]
    for segment in ("valid", "test"):
        print(f"\n### {segment}\n")
        print(store.build_table(results, segment, order, REFERENCE))
    for segment, table in ensembles.seed_average_tables(results, results_dir, BLENDS).items():
        print(f"\n### {segment}: predictions averaged over seeds\n")
        print(table)
    for segment, table in ensembles.replicated_tables(results, results_dir, REFERENCE).items():
        print(f"\n### {segment}: ensembles of three seeds, replicated\n")
        print(table)
    print(f"\n### ensembles of three seeds: {ENSEMBLE_BASE} against gru, the same seeds\n")
    print(ensembles.paired_ensembles_table(results, results_dir, ENSEMBLE_BASE, "gru"))
    print("\n### valid, scored against the returns (z-scored per day)\n")
    label_bases = [b for b in PRETRAININGS if base_spec(b)[1] != "rank"]
    rows = store.against_returns(
        results,
        results_dir,
        lambda v: v in LABELS_COMPARED or split_name(v)[1] in label_bases,
    )
    order = [*LABELS_COMPARED, *sorted({r["variant"] for r in rows} - set(LABELS_COMPARED))]
    print(store.build_table(rows, "valid", order, ENSEMBLE_BASE, ("IC", "Rank IC"), "IC"))
    print("\n### every saved model averaged\n")
    pools = {name: lambda v, keep=keep: keep(*split_name(v)) for name, keep in POOLS.items()}
    print(ensembles.pooled_table(results, results_dir, pools, REFERENCE))
    print("\n### normalisation chosen on the training years (rank IC of the held-out year)\n")
    print(choice.choice_table(results_dir, list(MAIN_SETTINGS)))
    print("\n### refit on the valid year's labels, with the epochs validation kept\n")
    print(refit.refit_table(results_dir, list(MAIN_SETTINGS), "icstop", REFERENCE))
    print("\n### the refit judged on the valid year: each setting a year earlier\n")
    print(refit.refit_table(results_dir, list(EARLIER), "icstop", REFERENCE))
    print("\n### whether the refit stays: the rule fixed before the second earlier year's fits\n")
    decided = refit_rule.decide_from(results_dir)
    print(refit_rule.rule_table(decided))
    print("\n### test: the refit's ensembles of three seeds\n")
    print(refit.refit_ensembles_table(results_dir, list(MAIN_SETTINGS), "icstop", REFERENCE))
    print("\n### score_power chosen on the valid year: each setting a year earlier\n")
    print(score_power.judged_on_valid_table(results_dir, list(EARLIER)))
    print("\n### score_power on each member or once on the average: each setting a year earlier\n")
    print(score_power.once_on_average_table(results_dir, list(EARLIER)))
    print("\n### test: the refit's ensembles of three seeds with score_power\n")
    print(score_power.test_table(results_dir, list(MAIN_SETTINGS), reference=REFERENCE))
    print("\n### test out of sample: a year and two years later\n")
    print(out_of_sample.out_of_sample_table(results_dir, list(LATER)))
    print("\n### out of sample, part by part: rank IC / IC of each group of seeds\n")
    print(out_of_sample.parts_table(results_dir, list(LATER)))
    every_year = store.load_results(results_dir)
    for segment, table in gru_against_igmtf_tables(every_year).items():
        print(f"\n### {segment}: the GRU stopped on the IC against IGMTF built on it, every year\n")
        print(table)
    print(
        "\n### the GRU alone or IGMTF, chosen on each valid year: the rule fixed before its fits\n"
    )
    print(gru_rule.judge(results_dir))
    print("\n### base_fallback measured: the plan fixed before the fits of A-6 and C-6\n")
    print(base_fallback.judge(results_dir))
    # Once judged, the rule's years join the record, as the later years: nothing is chosen there.
    print("\n### test out of sample: four and six years earlier, once the rules are judged\n")
    print(out_of_sample.out_of_sample_table(results_dir, list(FURTHER_BACK)))
    print(
        "\n### the refit a year and two years later, fit by fit: the measure of the rule that kept it\n"
    )
    print(refit.refit_table(results_dir, list(LATER), "icstop", REFERENCE, whole_groups=True))
    if decided[0].startswith("dropped"):
        # Reported once, as the rule says: the configuration without the refit on test.
        print("\n### test, the refit dropped: ensembles of three seeds with score_power\n")
        print(score_power.test_table(results_dir, list(MAIN_SETTINGS), refitted=False))
        print("\n### test out of sample, the refit dropped: a year and two years later\n")
        print(out_of_sample.out_of_sample_table(results_dir, list(LATER), refitted=False))
    print(f"\n### valid: the screens from a GRU stopped on the IC, against {ENSEMBLE_BASE}\n")
    judged = (*MAIN_SETTINGS, *EARLIER)  # a screen may be replicated a year or two earlier
    print(screens_table([r for r in store.load_results(results_dir) if r["setting"] in judged]))


def gru_against_igmtf_tables(results):
    """``{segment: table}``: ``pretrain@icstop`` (the GRU that IGMTF starts from, stopped on
    the valid IC) paired seed by seed with ``qlib@icstop`` (IGMTF built on it) in every
    setting-year, earlier and later ones too: whether the valid years, where choices are
    made, would choose the GRU alone where a test year favours it. Every column is over
    the seeds both have; a setting a year or two later counts complete groups of three
    only, as its out-of-sample rows do. The settings further back (``FURTHER_BACK``) judge
    the rule this table suggested, so they are not in it."""
    gru = f"pretrain@{split_name(ENSEMBLE_BASE)[1]}"
    results = [r for r in results if r["setting"] not in FURTHER_BACK]

    def runs(variant):
        return {(r["setting"], r["seed"]) for r in results if r["variant"] == variant}

    both = runs(ENSEMBLE_BASE) & runs(gru)
    for setting in {s for s, _ in both} & set(LATER):
        seeds = [seed for s, seed in both if s == setting]
        grouped = ensembles.whole_group_seeds(seeds)
        both -= {(setting, seed) for seed in seeds if seed not in grouped}
    pair = [
        r
        for r in results
        if r["variant"] in (ENSEMBLE_BASE, gru) and (r["setting"], r["seed"]) in both
    ]
    return {
        segment: store.build_table(pair, segment, [ENSEMBLE_BASE, gru], ENSEMBLE_BASE)
        for segment in ("valid", "test")
    }


def screens_table(results):
    """Valid rows of the IGMTF tasks on ``SCREEN_BASES``, each paired with ``ENSEMBLE_BASE``
    on the same seeds: what a screen changes, against the fit it changes. A setting with
    no screen but ``ENSEMBLE_BASE`` is left out."""
    screens = [
        r
        for r in results
        if split_name(r["variant"])[1] in SCREEN_BASES
        and split_name(r["variant"])[0] not in SPECIAL
    ]
    screened = {r["setting"] for r in screens if r["variant"] != ENSEMBLE_BASE}
    screens = [r for r in screens if r["setting"] in screened]
    return store.build_table(screens, "valid", [ENSEMBLE_BASE], ENSEMBLE_BASE)
