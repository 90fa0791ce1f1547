"""The networks: skorch estimators on ``(datetime, instrument)`` panels and their internals.

- :class:`IGMTFRegressor`: Qlib's IGMTF, the product.
- :class:`RNNRegressor`: Qlib's GRU / LSTM Alpha360 model, the base IGMTF pretrains.
- :class:`DateValidSplit`, :class:`ExplicitValidation`: validation splits by date
  for ``train_split=``.
- :class:`MaskedMSELoss` (Qlib's loss, the default) and :class:`DailyICLoss` for
  ``criterion=``.
- :class:`IGMTFModule`, :class:`RNNModule`: the torch modules, with
  :func:`pad_by_day` and :func:`load_qlib_igmtf_state_dict` (Qlib checkpoints).
- :func:`save_model`, :func:`load_model`: persistence without pickle.

The private modules, from the bottom up: ``_fused_kernels``, ``_fused_layout``,
``_fused_rnn`` and ``_fused_modules`` (the fused CPU GRU/LSTM: numba kernels,
tensor layouts and dropout, layers with their backward, the ``nn.GRU`` /
``nn.LSTM`` subclasses), ``_rnn_module`` (the
recurrent encoder, ``RNNModule`` and ``pad_by_day``), ``_module``
(``IGMTFModule``), ``_qlib_checkpoint`` (loading Qlib's weights), ``_day_data``
(day panels and batch iterators), ``_training`` (loss, callbacks, timers),
``_date_split`` (validation splits), ``_persistence`` (file format),
``_progress`` (progress lines), ``_panel_inputs`` (input validation and panel
building), ``_base`` (the panel handling both estimators share),
``_memory_bank`` (IGMTF's memory bank, a mixin of its estimator), then one
module per estimator.
"""

from ._date_split import DateValidSplit, ExplicitValidation
from ._fused_modules import FusedGRU, FusedLSTM
from ._igmtf import IGMTFRegressor
from ._module import IGMTFModule
from ._persistence import FORMAT_VERSION, load_model, save_model
from ._qlib_checkpoint import load_qlib_igmtf_state_dict
from ._rnn import RNNRegressor
from ._rnn_module import RNNModule, pad_by_day
from ._training import DailyICLoss, MaskedMSELoss

__all__ = [
    "FORMAT_VERSION",
    "DailyICLoss",
    "DateValidSplit",
    "ExplicitValidation",
    "FusedGRU",
    "FusedLSTM",
    "IGMTFModule",
    "IGMTFRegressor",
    "MaskedMSELoss",
    "RNNModule",
    "RNNRegressor",
    "load_model",
    "load_qlib_igmtf_state_dict",
    "pad_by_day",
    "save_model",
]
