"""``vs_qlib.py``'s data stages: ``prep-ours`` prepares the segments both frameworks train on,
``prep-qlib`` has Qlib's own handler prepare them, timed and compared with ours."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

from _vs_qlib_common import (
    FIELDS,
    LOOKAHEAD_DAYS,
    LOOKBACK_DAYS,
    SEGMENTS,
    cpu_seconds,
    load_segment,
    peak_rss_mib,
    write_result,
)


# -- stage 1: our data preparation ---------------------------------------------
def stage_prep_ours(args):
    import numpy as np

    from igmtf_sklearn.datasets import load_qlib
    from igmtf_sklearn.preprocessing import (
        Alpha360,
        Fillna,
        RobustZScoreNorm,
        cs_rank_norm,
        forward_return,
    )

    times = {}
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    calendar = np.array(
        (Path(args.data_dir) / "calendars" / "day.txt").read_text().split(), dtype="datetime64[ns]"
    )
    first = max(np.searchsorted(calendar, np.datetime64(args.train[0])) - LOOKBACK_DAYS, 0)
    last = min(
        np.searchsorted(calendar, np.datetime64(args.test[1]), side="right") - 1 + LOOKAHEAD_DAYS,
        len(calendar) - 1,
    )
    ohlcv = load_qlib(
        args.data_dir, args.market, calendar[first], calendar[last], members_only=False
    )
    times["load_qlib"] = time.perf_counter() - t0

    t = time.perf_counter()
    alpha = Alpha360(window=args.window, fields=list(FIELDS)).set_output(transform="pandas")
    X = alpha.fit_transform(ohlcv)
    times["alpha360"] = time.perf_counter() - t
    t = time.perf_counter()
    y = forward_return(ohlcv)
    dates = X.index.get_level_values(0)
    keep = ohlcv["member"].to_numpy() & (dates >= args.train[0]) & (dates <= args.test[1])
    X, y = X[keep], y[keep]
    dates = X.index.get_level_values(0)
    masks = {
        name: (dates >= seg[0]) & (dates <= seg[1])
        for name, seg in zip(SEGMENTS, (args.train, args.valid, args.test))
    }
    times["label+select"] = time.perf_counter() - t

    t = time.perf_counter()
    norm = RobustZScoreNorm(clip_outlier=True).set_output(transform="pandas")
    norm.fit(X[masks["train"]])
    fill = Fillna().set_output(transform="pandas")
    out = {}
    dropped_days = {}
    for name in SEGMENTS:
        Xs = fill.fit_transform(norm.transform(X[masks[name]]))
        ys = y[masks[name]]
        if name != "test":  # DropnaLabel + CSRankNorm on the learning segments
            known = ys.notna().to_numpy()
            Xs, ys = Xs[known], cs_rank_norm(ys[known])
        # Qlib's IGMTF crashes on a day with a single row: drop such days everywhere.
        counts = Xs.groupby(level=0, sort=False).size()
        small = counts.index[counts < 2]
        dropped_days[name] = len(small)
        if len(small):
            ok = ~Xs.index.get_level_values(0).isin(small)
            Xs, ys = Xs[ok], ys[ok]
        out[name] = (Xs, ys)
    times["norm+fillna+csrank"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    times["total_cpu"] = cpu_seconds() - cpu0

    workdir = Path(args.workdir)
    columns = list(out["train"][0].columns)
    summary = {}
    for name, (Xs, ys) in out.items():
        np.save(workdir / f"X_{name}.npy", np.ascontiguousarray(Xs.to_numpy(np.float32)))
        np.save(workdir / f"y_{name}.npy", ys.to_numpy(np.float32))
        np.save(workdir / f"dates_{name}.npy", Xs.index.get_level_values(0).to_numpy())
        np.save(workdir / f"inst_{name}.npy", Xs.index.get_level_values(1).to_numpy().astype(str))
        summary[name] = {"rows": len(Xs), "days": int(Xs.index.get_level_values(0).nunique())}
    (workdir / "meta.json").write_text(
        json.dumps({"columns": columns, "d_feat": len(FIELDS), "segments": summary})
    )
    write_result(
        args.workdir,
        "prep-ours",
        {"times": times, "segments": summary, "dropped_days": dropped_days},
    )


# -- stage 2: Qlib's data preparation ------------------------------------------
def _alpha360_without_vwap(window):
    fields, names = [], []
    for field in FIELDS:
        denom = "($volume+1e-12)" if field == "volume" else "$close"
        for i in range(window - 1, 0, -1):
            fields.append(f"Ref(${field}, {i})/{denom}")
            names.append(f"{field.upper()}{i}")
        fields.append(f"${field}/{denom}")
        names.append(f"{field.upper()}0")
    return fields, names


def stage_prep_qlib(args):
    import numpy as np
    import qlib
    from qlib.data.dataset import DatasetH
    from qlib.data.dataset.handler import DataHandlerLP
    from qlib.data.dataset.processor import CSRankNorm, DropnaLabel, Fillna, RobustZScoreNorm

    t0, cpu0 = time.perf_counter(), cpu_seconds()
    qlib.init(provider_uri=str(args.data_dir), region="cn", kernels=args.threads)
    t_init = time.perf_counter() - t0
    t = time.perf_counter()
    handler = DataHandlerLP(
        instruments=args.market,
        start_time=args.train[0],
        end_time=args.test[1],
        data_loader={
            "class": "QlibDataLoader",
            "kwargs": {
                "config": {
                    "feature": _alpha360_without_vwap(args.window),
                    "label": (["Ref($close, -2)/Ref($close, -1) - 1"], ["LABEL0"]),
                },
            },
        },
        infer_processors=[
            RobustZScoreNorm(
                fit_start_time=args.train[0],
                fit_end_time=args.train[1],
                fields_group="feature",
                clip_outlier=True,
            ),
            Fillna(fields_group="feature"),
        ],
        learn_processors=[DropnaLabel(), CSRankNorm(fields_group="label")],
    )
    t_handler = time.perf_counter() - t
    t = time.perf_counter()
    dataset = DatasetH(handler, segments=dict(zip(SEGMENTS, (args.train, args.valid, args.test))))
    frames = {
        "train": dataset.prepare(
            "train", col_set=["feature", "label"], data_key=DataHandlerLP.DK_L
        ),
        "valid": dataset.prepare(
            "valid", col_set=["feature", "label"], data_key=DataHandlerLP.DK_L
        ),
        "test": dataset.prepare("test", col_set="feature", data_key=DataHandlerLP.DK_I),
    }
    t_prepare = time.perf_counter() - t
    total, total_cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    rss_after_prep = peak_rss_mib()
    children_rss = peak_rss_mib(resource.RUSAGE_CHILDREN)

    # How close is Qlib's data to ours? (after the timing and the RSS reading)
    compare = {}
    for name, frame in frames.items():
        ours, y_ours = load_segment(args.workdir, name)
        feat = frame["feature"] if name != "test" else frame
        common = feat.index.intersection(ours.index)
        a = feat.loc[common, list(ours.columns)].to_numpy(np.float32)
        b = ours.loc[common].to_numpy(np.float32)
        diff = np.abs(a - b)
        entry = {
            "rows_qlib": len(feat),
            "rows_ours": len(ours),
            "rows_common": len(common),
            "feature_max_abs_diff": float(np.nanmax(diff)) if diff.size else float("nan"),
            "feature_share_within_1e-4": float(np.mean(diff <= 1e-4))
            if diff.size
            else float("nan"),
        }
        if name != "test":
            la = frame["label"].iloc[:, 0].loc[common].to_numpy(np.float32)
            lb = y_ours.loc[common].to_numpy(np.float32)
            entry["label_max_abs_diff"] = float(np.nanmax(np.abs(la - lb)))
        compare[name] = entry
    result = {
        "times": {
            "qlib.init": t_init,
            "handler": t_handler,
            "prepare": t_prepare,
            "total": total,
            "total_cpu": total_cpu,
        },
        "compare": compare,
    }
    write_result(args.workdir, "prep-qlib", result)
    # Report the RSS of the preparation itself, not of the comparison that followed.
    path = Path(args.workdir) / "prep-qlib.json"
    saved = json.loads(path.read_text())
    saved["peak_rss_mib"], saved["peak_rss_children_mib"] = rss_after_prep, children_rss
    path.write_text(json.dumps(saved, indent=1))
