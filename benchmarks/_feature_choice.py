"""The accuracy campaign's choice of input normalisation, made on the training years alone.

The per-day features (``both``: Qlib's normalisation and a per-day z-score side by side)
win C's validation by 16-17 % and lose A's and B's; Qlib's normalisation the other way
round. A user cannot look at the valid year to pick one per market, but can do what
``GridSearchCV`` with a walk-forward split does inside the training years: hold out the
last training year, fit each candidate on the years before it (normalisation included),
and keep the one that scores best on the held-out year. Here the candidate is scored with
the GRU alone, the network IGMTF is pretrained from, at the pretraining's budget and
stopping rule (the validation IC, ``@icstop``): IGMTF's own epochs move its rank IC by a
few per cent at most (docs/accuracy.md), and the GRU costs half the CPU.

The choice is made once per setting, on seed ``CHOICE_SEED``, as a user would make it
once; ``chosen`` in the tables is then, on every seed, Qlib's IGMTF on the chosen
features from a GRU stopped on the validation IC (``qlib@icstop`` or ``qlib@both_icstop``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import _accuracy_results as store
from _accuracy_data import segment_frames

#: The normalisations chosen between, and the base each gives the final IGMTF fit.
CANDIDATES = {"robust": "icstop", "both": "both_icstop"}
CHOICE_SEED = 0
#: Task names of the held-out-year fits: ``choose.<features>``; ``choose`` plans them all.
PREFIX = "choose."
#: The table row of the pick's final fits.
CHOSEN = "chosen"


def tasks():
    return [f"{PREFIX}{features}" for features in CANDIDATES]


def is_task(variant):
    return variant.startswith(PREFIX) and _features(variant) in CANDIDATES


def _features(variant):
    """``"choose.both"`` -> ``"both"``."""
    return variant[len(PREFIX) :]


def path(results_dir, setting, variant, seed):
    """``<results>/<setting>/choice/<features>_seed<k>.json``."""
    return Path(results_dir) / setting / "choice" / f"{_features(variant)}_seed{seed}.json"


def run(setting, variant, seed, task, make_gru):
    """Fit the GRU of one candidate on the training years but the last, stopped and scored
    on the last; ``task`` is ``(results_dir, data_root, cache_dir)``, ``make_gru(frames,
    seed)`` the unfitted ``RNNRegressor`` of the campaign's pretraining. Writes the JSON."""
    results_dir, data_root, cache_dir = task
    features = _features(variant)
    frames = segment_frames(setting, data_root, cache_dir, features, fold=True)
    start, cpu = time.perf_counter(), time.process_time()
    model = make_gru(frames, seed).fit(*frames["train"])
    X_held, y_held = frames["valid"]
    days = {name: frames[name][0].index.get_level_values(0) for name in ("train", "valid")}
    record = {
        "setting": setting,
        "features": features,
        "seed": seed,
        "train_days": [str(days["train"].min().date()), str(days["train"].max().date())],
        "held_out_days": [str(days["valid"].min().date()), str(days["valid"].max().date())],
        "held_out": store.score(y_held, model.predict(X_held)),
        "valid_ic": [row["valid_ic"] for row in model.history_],
        "fit_cpu_s": time.process_time() - cpu,
        "fit_wall_s": time.perf_counter() - start,
        "commit": store.commit(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    store.write_json(path(results_dir, setting, variant, seed), record)
    return record


def _records(results_dir, setting, seed):
    """``{features: held-out-year record}`` of every candidate, or None while one is missing."""
    files = {_features(v): path(results_dir, setting, v, seed) for v in tasks()}
    if not all(file.is_file() for file in files.values()):
        return None
    return {features: json.loads(file.read_text()) for features, file in files.items()}


def pick(results_dir, setting, seed=CHOICE_SEED):
    """The chosen features of a setting (best held-out rank IC on ``seed``) and the
    candidates' scores; None while a candidate's fit is missing."""
    records = _records(results_dir, setting, seed)
    return None if records is None else _best(records)


def _best(records):
    """The features with the best held-out rank IC, and every candidate's."""
    scores = {features: r["held_out"]["Rank IC"] for features, r in records.items()}
    return max(scores, key=scores.get), scores  # max keeps the first (Qlib's) on ties


def chosen_rows(results, results_dir):
    """Rows named ``chosen``: per setting with a pick, the final fits of the pick's base."""
    rows = []
    for setting in sorted({r["setting"] for r in results}):
        choice = pick(results_dir, setting)
        if choice is None:
            continue
        variant = f"qlib@{CANDIDATES[choice[0]]}"
        picked = [r for r in results if (r["setting"], r["variant"]) == (setting, variant)]
        rows += [{**r, "variant": CHOSEN} for r in picked]
    return rows


def choice_table(results_dir, settings):
    """Markdown table: each candidate's held-out rank IC per setting and seed, and the pick
    (``CHOICE_SEED``'s is the one ``chosen`` uses; other seeds show whether it is stable)."""
    names = list(CANDIDATES)
    lines = [
        "| setting | held-out year | seed | " + " | ".join(names) + " | pick |",
        "|---" * (len(names) + 4) + "|",
    ]
    for setting in settings:
        files = Path(results_dir, setting, "choice").glob(f"{names[0]}_seed*.json")
        for seed in sorted(int(f.stem.rsplit("_seed", 1)[1]) for f in files):
            records = _records(results_dir, setting, seed)
            if records is None:
                continue
            best, scores = _best(records)
            year = records[names[0]]["held_out_days"][0][:4]
            cells = " | ".join(f"{scores[n]:.4f}" for n in names)
            used = " (used)" if seed == CHOICE_SEED else ""
            lines.append(f"| {setting} | {year} | {seed} | {cells} | {best}{used} |")
    return "\n".join(lines)
