"""``vs_qlib.py``'s tables: the timing comparison of one run, and the accuracy comparison over
seeds (test IC of both frameworks, mean +- std, paired by seed)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("nan")


def _fmt(value, digits=1, unit=" s"):
    if value is None or value != value:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def _ratio(q, o):
    if q is None or o is None or q != q or o != o or not o:
        return "n/a"
    return f"{q / o:.2f}x"


#: The rows under each epoch of the timing table: (label, key of the stage's epoch records).
#: Only Qlib re-scores the training set each epoch (``rescore_train``); ours reads 0.
PRETRAIN_PHASES = (
    ("  training steps", "train"),
    ("  re-scoring train (Qlib only)", "rescore_train"),
    ("  validation", "valid"),
)
IGMTF_PHASES = (
    ("  train hidden / memory bank", "bank"),
    ("  training (one day per step)", "train"),
    ("  re-scoring train (Qlib only)", "rescore_train"),
    ("  validation", "valid"),
)


def build_table(results, cpu=False):
    """The comparison table: wall seconds, or CPU seconds with ``cpu=True``."""
    sx = "_cpu" if cpu else ""
    po, pq = results.get("prep-ours", {}), results.get("prep-qlib", {})
    fo, fq = results.get("fit-ours", {}), results.get("fit-qlib", {})

    def avg(r, group, key):
        epochs = r.get(group) or []
        values = [e.get(key + sx) for e in epochs]
        return _mean(values) if epochs else None

    def gru_epoch(r):
        epochs = r.get("pretrain_epochs") or []
        if not epochs:
            return None
        keys = ("train", "rescore_train", "valid") if "rescore_train" in epochs[0] else ("epoch",)
        return _mean([sum(e.get(k + sx, 0.0) for k in keys) for e in epochs])

    def phase(name, group, key):
        ours = (0.0 if fo else None) if key == "rescore_train" else avg(fo, group, key)
        return name, avg(fq, group, key), ours

    rows = [
        (
            "data prep (features + labels, 3 segments)",
            pq.get("times", {}).get("total" + sx),
            po.get("times", {}).get("total" + sx),
        ),
        ("GRU pretrain epoch", gru_epoch(fq), gru_epoch(fo)),
        *(phase(name, "pretrain_epochs", key) for name, key in PRETRAIN_PHASES),
        phase("IGMTF epoch", "igmtf_epochs", "epoch"),
        *(phase(name, "igmtf_epochs", key) for name, key in IGMTF_PHASES),
        ("predict test", fq.get("predict" + (sx or "_wall")), fo.get("predict" + (sx or "_wall"))),
    ]
    unit = "CPU s" if cpu else "wall s"
    lines = [f"| stage ({unit}) | Qlib | ours | Qlib/ours |", "|---|---|---|---|"]
    for name, q, o in rows:
        lines.append(f"| {name} | {_fmt(q)} | {_fmt(o)} | {_ratio(q, o)} |")
    if cpu:
        return "\n".join(lines)
    for name, q, o in [
        ("peak RSS, data prep", pq.get("peak_rss_mib"), po.get("peak_rss_mib")),
        ("peak RSS, pretrain + IGMTF + predict", fq.get("peak_rss_mib"), fo.get("peak_rss_mib")),
    ]:
        lines.append(f"| {name} | {_fmt(q, 0, ' MiB')} | {_fmt(o, 0, ' MiB')} | {_ratio(q, o)} |")
    tq, to = fq.get("test", {}), fo.get("test", {})
    for key in ("IC", "Rank IC", "ICIR", "Rank ICIR"):
        lines.append(f"| test {key} | {_fmt(tq.get(key), 4, '')} | {_fmt(to.get(key), 4, '')} | |")
    return "\n".join(lines)


def details(results):
    lines = []
    po, pq = results.get("prep-ours", {}), results.get("prep-qlib", {})
    if po:
        lines.append(
            "our data prep: " + ", ".join(f"{k} {v:.1f} s" for k, v in po["times"].items())
        )
        lines.append(
            f"segments: {po['segments']}; days with < 2 rows dropped: {po['dropped_days']}"
        )
    if pq:
        lines.append(
            "Qlib data prep: " + ", ".join(f"{k} {v:.1f} s" for k, v in pq["times"].items())
        )
        lines.append(
            f"Qlib prep worker processes' peak RSS: {pq.get('peak_rss_children_mib', 0):.0f} MiB"
        )
        for name, entry in pq.get("compare", {}).items():
            lines.append(f"Qlib vs our data, {name}: {entry}")
    for stage in ("fit-ours", "fit-qlib"):
        r = results.get(stage)
        if not r:
            continue
        if "peak_rss_by_phase_mib" in r:
            lines.append(f"{stage}: peak RSS by phase (MiB): {r['peak_rss_by_phase_mib']}")
        lines.append(
            f"{stage}: GRU fit wall {_fmt(r.get('pretrain_fit_wall'))}, IGMTF fit wall "
            f"{_fmt(r.get('igmtf_fit_wall'))}; per epoch:"
        )
        for group in ("pretrain_epochs", "igmtf_epochs"):
            for i, e in enumerate(r.get(group, [])):
                items = ", ".join(f"{k} {v:.3f}" for k, v in e.items() if isinstance(v, float))
                lines.append(f"   {group[:-7]} {i}: {items}")
    return "\n".join(lines)


def seed_results(workdir, seeds):
    results = {}
    for seed in seeds:
        for stage in ("fit-ours", "fit-qlib"):
            path = Path(workdir) / f"seed{seed}" / f"{stage}.json"
            if path.is_file():
                results.setdefault(seed, {})[stage] = json.loads(path.read_text())
    return results


def _mean_std(values):
    """Mean and sample standard deviation of the known values (NaN where undefined)."""
    values = [v for v in values if v is not None and v == v]
    mean = statistics.fmean(values) if values else float("nan")
    return mean, statistics.stdev(values) if len(values) > 1 else float("nan")


def accuracy_table(workdir, seeds):
    """Test IC, rank IC, ICIR and rank ICIR of both frameworks, per seed and mean +- std."""
    results = seed_results(workdir, seeds)
    keys = ("IC", "Rank IC", "ICIR", "Rank ICIR")
    lines = [
        "| seed | framework | epochs run (best) | " + " | ".join(f"test {k}" for k in keys) + " |",
        "|---|---|---|" + "---|" * len(keys),
    ]
    per_key = {(who, k): [] for who in ("fit-qlib", "fit-ours") for k in keys}
    for seed in seeds:
        for who, label in (("fit-qlib", "Qlib"), ("fit-ours", "ours")):
            r = results.get(seed, {}).get(who)
            if not r:
                continue
            ics = [e.get("valid_ic") for e in r.get("igmtf_epochs", [])]
            known = [v if v is not None and v == v else float("-inf") for v in ics]
            best = 1 + known.index(max(known)) if known else None
            cells = []
            for k in keys:
                value = r["test"].get(k)
                per_key[who, k].append(value)
                cells.append(_fmt(value, 4, ""))
            run = f"{len(ics)} ({best})" if best is not None else f"{len(ics)}"
            lines.append(f"| {seed} | {label} | {run} | " + " | ".join(cells) + " |")
    for who, label in (("fit-qlib", "Qlib"), ("fit-ours", "ours")):
        cells = []
        for k in keys:
            mean, std = _mean_std(per_key[who, k])
            cells.append(f"{mean:.4f} +- {std:.4f}")
        lines.append(f"| mean +- std | {label} | | " + " | ".join(cells) + " |")
    # Paired by seed: only seeds where both frameworks have a result.
    both = [r for r in results.values() if "fit-ours" in r and "fit-qlib" in r]
    cells = []
    for k in keys:
        diffs = [r["fit-ours"]["test"][k] - r["fit-qlib"]["test"][k] for r in both]
        mean, std = _mean_std(diffs)
        cells.append(f"{mean:+.4f} +- {std:.4f}")
    lines.append("| ours - Qlib, paired | | | " + " | ".join(cells) + " |")
    return "\n".join(lines)
