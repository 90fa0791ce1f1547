"""The torch networks, at their historical import path.

The code lives in :mod:`igmtf_sklearn.nets` (``nets/_module.py`` and
``nets/_rnn_module.py``); this module re-exports its public names so that
``from igmtf_sklearn.module import ...`` keeps working.
"""

from .nets import IGMTFModule, RNNModule, load_qlib_igmtf_state_dict, pad_by_day

__all__ = ["IGMTFModule", "RNNModule", "load_qlib_igmtf_state_dict", "pad_by_day"]
