"""The report's figures of the model: its training curve and its IC beside its baselines'."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._plotting import BLUE, FULL, GREEN, GREY, ORANGE, PURPLE, RED, new_figure, png, zero_line

#: Colours of the models compared: the model first, then its baselines.
MODEL_COLORS = (BLUE, ORANGE, GREEN, PURPLE, RED, GREY)


def training_curve_figure(curve: pd.DataFrame) -> bytes:
    """Loss and validation IC by epoch: the GRU pretraining, then the model's own training."""
    figure, (loss, ic) = new_figure(FULL, ncols=2)
    step = np.arange(1, len(curve) + 1)
    pretraining = (curve["stage"] == "pretraining").to_numpy()
    for ax in (loss, ic):
        if pretraining.any():
            ax.axvspan(0.5, pretraining.sum() + 0.5, color="#eeeeee", label="GRU pretraining")
        ax.set_xlabel("epoch (pretraining, then training)")
        ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole numbers
    for stage, marker in (("pretraining", "s"), ("training", "o")):
        rows = (curve["stage"] == stage).to_numpy()
        if not rows.any():
            continue
        lines = (
            (loss, "train loss", BLUE, "-"),
            (loss, "valid loss", ORANGE, "--"),
            (ic, "valid IC", GREEN, "-"),
        )
        for ax, column, color, style in lines:
            ax.plot(
                step[rows],
                curve[column][rows],
                color=color,
                marker=marker,
                linestyle=style,
                label=f"{column}, {stage}",
            )
    loss.set_title("Loss by epoch")
    loss.legend(loc="upper right", fontsize=8)
    zero_line(ic)
    ic.set_title("Mean daily IC on the validation days by epoch")
    ic.legend(loc="lower right", fontsize=8)
    return png(figure)


def baselines_figure(ics: dict) -> bytes:
    """Cumulative daily IC of the model and of its baselines over the same days."""
    figure, (ax,) = new_figure(FULL)
    for (name, ic), color in zip(ics.items(), MODEL_COLORS):
        series = ic["IC"].fillna(0.0)
        ax.plot(
            series.index,
            series.cumsum(),
            color=color,
            label=f"{name} (mean IC {ic['IC'].mean():.4f})",
        )
    zero_line(ax)
    ax.set_title("Cumulative daily IC: the model beside its baselines (a steeper line is better)")
    ax.legend(loc="upper left")
    return png(figure)
