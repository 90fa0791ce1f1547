"""The loader of Qlib's IGMTF checkpoints into :class:`IGMTFModule`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._module import _BANK_BUFFERS

if TYPE_CHECKING:
    from collections.abc import Mapping

    import torch

    from ._module import IGMTFModule

__all__ = ["load_qlib_igmtf_state_dict"]


def load_qlib_igmtf_state_dict(module: IGMTFModule, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load the weights of Qlib's ``IGMTFModel`` into an :class:`IGMTFModule`.

    Qlib's model carries an unused ``fc_output`` layer and no memory bank; both
    are skipped, everything else must match.

    Parameters
    ----------
    module : IGMTFModule
        The module to fill.
    state_dict : dict of str to torch.Tensor
        Qlib's ``IGMTFModel.state_dict()``.

    Examples
    --------
    >>> import torch
    >>> from igmtf_sklearn.nets import IGMTFModule, load_qlib_igmtf_state_dict
    >>> qlib_state = dict(IGMTFModule(hidden_size=8).state_dict())  # stands for Qlib's
    >>> qlib_state["fc_output.weight"] = torch.zeros(1, 8)  # Qlib's unused layer: skipped
    >>> module = IGMTFModule(hidden_size=8)
    >>> load_qlib_igmtf_state_dict(module, qlib_state)
    >>> torch.equal(module.project1.weight, qlib_state["project1.weight"])
    True
    """
    weights = {k: v for k, v in state_dict.items() if not k.startswith("fc_output.")}
    result = module.load_state_dict(weights, strict=False)
    # The same-day graph's layer starts at zero (Qlib's model exactly): Qlib has none to load.
    optional = (*_BANK_BUFFERS, "same_day_out.weight", "same_day_out.bias")
    missing = [k for k in result.missing_keys if k not in optional]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"Not a Qlib IGMTF state dict for this configuration: missing {missing}, "
            f"unexpected {result.unexpected_keys}. Check base_model, hidden_size and num_layers."
        )
