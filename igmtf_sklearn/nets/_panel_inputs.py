"""Input validation and panel building of the estimators: ``_PanelInputsMixin``.

The feature frame's panel index, column layout (``d_feat`` fields x ``seq_len``
lags, inferred from Alpha360 column names) and values are checked; the labels
are aligned with it and normalised per day; both become a ``DayPanel`` of
tensors. ``_base._PanelNet`` inherits this; nothing here trains.
"""

from __future__ import annotations

import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from .._utils._panel import check_panel_index, day_slices
from ..preprocessing import cs_gauss_rank_norm, cs_rank_norm, cs_zscore_norm
from ._day_data import DayPanel

_LABEL_NORMS = {
    "csrank": cs_rank_norm,
    "cszscore": cs_zscore_norm,
    "csgaussrank": cs_gauss_rank_norm,
    None: None,
}
# ``CLOSE59``, or ``robust__CLOSE59`` as scikit-learn's FeatureUnion names its parts' columns.
_ALPHA_COLUMN = re.compile(r"^(?:(\w+?)__)?([A-Z]+)(\d+)$")


class _InputLayout(NamedTuple):
    """How the feature columns feed the network: ``d_feat`` fields x ``seq_len`` lags."""

    d_feat: int
    feature_names: np.ndarray

    @property
    def seq_len(self):
        return len(self.feature_names) // self.d_feat


def _infer_d_feat(columns):
    """Number of fields of an Alpha360 layout (``CLOSE59 .. CLOSE0, OPEN59 ..``), or None.

    Columns a ``FeatureUnion`` prefixed (``robust__CLOSE59 .. per_day__VOLUME0``) count
    each part's fields separately: two normalisations of 5 fields are 10 fields.
    """
    matches = [_ALPHA_COLUMN.match(str(c)) for c in columns]
    if not all(matches):
        return None
    fields = list(dict.fromkeys(m.groups()[:2] for m in matches))
    # Feature-major: each field's lags form one block, oldest first (CLOSE59 .. CLOSE0).
    seq_len = len(columns) // len(fields)
    expected = [(*f, str(lag)) for f in fields for lag in range(seq_len - 1, -1, -1)]
    return len(fields) if [m.groups() for m in matches] == expected else None


def _readonly_tensor(array):
    """Share ``array``'s memory with a tensor; pandas 3 marks its arrays read-only.

    Nothing here writes into the features, so the copy torch's warning suggests
    would only cost memory.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def _all_finite(values):
    """Whether a float32 array holds no NaN or infinity.

    A float64 sum of float32 values cannot overflow (at most ~3.4e38 per value), so it
    is finite exactly when every value is; this spares ``np.isfinite``'s n_rows x
    n_features mask (57 MB on three years of CSI 300).
    """
    with np.errstate(invalid="ignore"):  # inf + -inf is NaN: still caught
        return bool(np.isfinite(values.sum(dtype=np.float64)))


class _PanelInputsMixin:
    """Input validation and panel building of ``_PanelNet``; not a public class."""

    # -- input validation -----------------------------------------------------
    def _check_features(self, X, *, fitting):
        check_panel_index(X, name="X")
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a DataFrame of features, got a Series.")
        non_numeric = [c for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        if non_numeric:
            raise ValueError(
                f"X has non-numeric columns {non_numeric[:5]}: the model takes numeric "
                "Alpha360-style features only. Drop or encode them first."
            )
        if not fitting:
            # Validation panels arrive mid-fit, once the training columns are known.
            if not hasattr(self, "feature_names_in_"):
                self.check_is_fitted()
            if list(X.columns) != list(self.feature_names_in_):
                raise ValueError(
                    f"X has columns {list(X.columns)[:4]}... ({X.shape[1]}), but the model was "
                    f"fitted on {list(self.feature_names_in_)[:4]}... ({self.n_features_in_}). "
                    "Pass the same feature columns in the same order."
                )
        with np.errstate(over="ignore"):  # float32 overflow is reported just below
            features = X.to_numpy(dtype=np.float32)
        if not _all_finite(features):
            kind = "NaN" if np.isnan(features).any() else "infinite values"
            raise ValueError(
                f"X contains {kind}; the network cannot take them. Put "
                "igmtf_sklearn.preprocessing.Fillna() (after RobustZScoreNorm) in front of the "
                "model, or clean the features."
            )
        return features

    @staticmethod
    def _labels_in_row_order(y, index):
        """An array-like y of one label per row of X, as a Series on X's index.

        scikit-learn's meta-estimators (e.g. ``VotingRegressor``) hand their members
        ``column_or_1d(y)``: the labels without their index, in X's row order.
        """
        values = np.asarray(y)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1 or len(values) != len(index):
            raise ValueError(
                f"y must be a pandas Series on X's (datetime, instrument) index, or one label "
                f"per row of X in X's row order; got shape {values.shape} for {len(index)} rows."
            )
        return pd.Series(values, index=index)

    def _check_labels(self, y, index, *, normalise=True):
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(
                    f"y must be a Series or a 1-column DataFrame, got {y.shape[1]} columns."
                )
            y = y.iloc[:, 0]
        if not isinstance(y, pd.Series):
            y = self._labels_in_row_order(y, index)
        if not y.index.equals(index):
            raise ValueError(
                "y's index differs from X's index: labels must be aligned row by row with the "
                "features. Use y.reindex(X.index)."
            )
        if y.isna().all():
            raise ValueError("Every label in y is NaN: there is nothing to train on.")
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            # An infinite label would take the top rank (csrank), turn its whole day
            # into NaN (cszscore) or dominate the loss: refuse it before any work.
            raise ValueError(
                f"y contains {int(np.isinf(values).sum())} infinite value(s); labels must be "
                "finite or NaN (NaN rows are left out of training). Replace them, e.g. with "
                "y.replace([np.inf, -np.inf], np.nan)."
            )
        norm = _LABEL_NORMS[self.label_norm] if normalise else None
        labels = norm(y) if norm is not None else y
        return labels.to_numpy(dtype=np.float32)

    def _input_layout(self, X):
        """Validate X's panel index and column layout against the parameters and the fit.

        With ``warm_start``, a fitted network reads a fixed number of fields and
        lags: a different layout is refused, as it would be misread row by row.
        """
        check_panel_index(X, name="X")  # before reading any column
        d_feat = self.d_feat if self.d_feat is not None else _infer_d_feat(X.columns)
        if d_feat is None:
            raise ValueError(
                "Cannot infer d_feat: the columns are not in Alpha360's layout (CLOSE59 .. CLOSE0, "
                "OPEN59 ...). Pass d_feat, the number of fields per time step."
            )
        if X.shape[1] % d_feat:
            raise ValueError(
                f"X has {X.shape[1]} columns, which is not a multiple of d_feat={d_feat!r}: the "
                "features must be d_feat fields x seq_len lags in feature-major order."
            )
        layout = _InputLayout(int(d_feat), np.asarray(X.columns, dtype=object))
        if self.warm_start and self.initialized_ and hasattr(self, "d_feat_"):
            fitted = (self.d_feat_, self.seq_len_)
            if (layout.d_feat, layout.seq_len) != fitted:
                raise ValueError(
                    f"warm_start=True continues training the fitted network, which reads "
                    f"d_feat={fitted[0]} fields x {fitted[1]} lags; X has d_feat={layout.d_feat} "
                    f"x {layout.seq_len}. Pass features in the fitted layout, or set "
                    "warm_start=False to train a new network."
                )
        return layout

    def _set_layout(self, layout):
        self.d_feat_ = layout.d_feat
        self.seq_len_ = layout.seq_len
        self.n_features_in_ = len(layout.feature_names)
        self.feature_names_in_ = layout.feature_names

    def _layout(self):
        """The fitted input layout."""
        return _InputLayout(self.d_feat_, self.feature_names_in_)

    # -- panels ---------------------------------------------------------------
    def _make_panel(self, X, y=None, *, fitting=False, normalise=True):
        """Validate a feature frame (and labels, normalised per day) as a ``DayPanel``."""
        features = self._check_features(X, fitting=fitting)
        labels = self._check_labels(y, X.index, normalise=normalise) if y is not None else None
        # score_power="auto" scores the validation days against the returns themselves.
        keep_raw = labels is not None and normalise and getattr(self, "score_power", None) == "auto"
        raw = self._check_labels(y, X.index, normalise=False) if keep_raw else None
        index = X.index
        if labels is not None and np.isnan(labels).any():
            # Like Qlib's DropnaLabel: rows without a label take no part in training.
            keep = ~np.isnan(labels)
            features, labels, index = features[keep], labels[keep], index[keep]
            raw = raw[keep] if raw is not None else None
        _, counts = day_slices(index)
        dates = index.get_level_values(0).unique().to_numpy()
        device = self.device if labels is not None else "cpu"
        X_tensor = _readonly_tensor(features).to(device)
        y_tensor = _readonly_tensor(labels).to(device) if labels is not None else None
        return DayPanel(X_tensor, y_tensor, counts, dates, raw)
