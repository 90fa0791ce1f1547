"""Type aliases of the public signatures.

The modules import them under ``typing.TYPE_CHECKING`` only (their annotations
are strings, ``from __future__ import annotations``), so they cost nothing at
run time; ``py.typed`` tells type checkers to read them.
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["ArrayLike", "Labels", "PathLike", "RandomState", "Scores"]

#: A file or folder path.
PathLike = Union[str, os.PathLike]  # noqa: UP007 (an alias evaluated at run time on 3.10)
#: Labels or returns on the panel index: a Series or a single-column DataFrame.
Labels = Union[pd.Series, pd.DataFrame]  # noqa: UP007
#: Predictions: a panel Series / DataFrame, or an array aligned with the labels' rows.
Scores = Union[pd.Series, pd.DataFrame, ArrayLike]  # noqa: UP007
#: scikit-learn's ``random_state``.
RandomState = Union[int, np.random.RandomState, None]  # noqa: UP007
