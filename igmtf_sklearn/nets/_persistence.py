"""Save and load fitted models without pickle.

``joblib`` and ``pickle`` files run code when they are loaded: never load one
from a source you do not trust. :func:`save_model` writes a file that holds
only tensors, numbers and strings, and :func:`load_model` reads it with
``torch.load(weights_only=True)``, which refuses anything else. Classes are
looked up by name in an allow-list of this package's estimators, so a file can
name nothing else to construct.

What is stored: each estimator's plain hyperparameters (numbers, strings,
booleans, None), its fitted attributes (ndarrays as tensors), and for the
networks the module state (weights and memory bank) and the pretrained base.
A :class:`~sklearn.ensemble.VotingRegressor` of these networks (seed averaging),
alone or as a pipeline's step, is stored as its ``weights``, ``n_jobs`` and
``verbose``, with each fitted member under its name.
Object-valued settings (``callbacks``, ``train_split``, a custom ``module``
class) are not stored: a loaded model predicts identically, and refits with
the defaults for those.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.base import clone
from sklearn.ensemble import VotingRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._utils._atomic import atomic_path
from ..preprocessing import Alpha360, CSRankNorm, CSZScoreNorm, Fillna, RobustZScoreNorm

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

__all__ = ["FORMAT_VERSION", "load_model", "register_net", "save_model"]

FORMAT = "igmtf-sklearn"
FORMAT_VERSION = 1
# The estimators this format stores, by class name. They register themselves
# (``@register_net``) as their modules load: this module sits below them, so that
# their ``save`` / ``load`` methods can import it without an import cycle.
_NETS = {}
_TRANSFORMERS = {
    cls.__name__: cls for cls in (Alpha360, RobustZScoreNorm, Fillna, CSZScoreNorm, CSRankNorm)
}
_PLAIN = (bool, int, float, str, type(None))
# Classes a hyperparameter may hold (the losses for ``criterion``), stored by name and
# looked up again on load: nothing outside this list can be named by a file.
_PARAM_CLASSES = {}
_CLASS_KEY = "__class__"


def register_net(cls):
    """Class decorator: allow the network estimator ``cls`` in model files, by its name.

    ``cls._fitted_nets`` names the attributes holding fitted sub-estimators
    (IGMTF's pretrained base) that are stored with it.
    """
    _NETS[cls.__name__] = cls
    return cls


def register_param_classes(*classes):
    """Allow ``classes`` as hyperparameter values in model files (stored by their name)."""
    _PARAM_CLASSES.update({cls.__name__: cls for cls in classes})


def _is_plain(value):
    if isinstance(value, list | tuple):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN) and not isinstance(value, np.generic)


def _plain_params(estimator):
    """Hyperparameters that are plain values or registered classes; other objects are left out."""
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if _is_plain(value):
            params[key] = value
        elif isinstance(value, type) and _PARAM_CLASSES.get(value.__name__) is value:
            params[key] = {_CLASS_KEY: value.__name__}
    return params


def _restore_params(params):
    """Stored hyperparameters with registered class names turned back into the classes."""
    return {
        k: _PARAM_CLASSES[v[_CLASS_KEY]] if isinstance(v, dict) and _CLASS_KEY in v else v
        for k, v in params.items()
    }


def _fitted_attributes(estimator):
    """Public attributes ending in ``_`` that are arrays or plain values."""
    fitted = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.dtype != object:
            fitted[name] = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, np.ndarray):  # e.g. feature_names_in_, object dtype
            fitted[name] = [str(v) for v in value]
        elif _is_plain(value):
            fitted[name] = value
    return fitted


def _net_state(net):
    net.check_is_fitted()
    fitted = {
        "d_feat_": net.d_feat_,
        "seq_len_": net.seq_len_,
        "n_features_in_": net.n_features_in_,
        "feature_names_in_": [str(c) for c in net.feature_names_in_],
    }
    for name in ("score_power_", "base_chosen_", "validation_ics_"):  # set by some fits only
        if hasattr(net, name):
            fitted[name] = getattr(net, name)
    state = {
        "class": type(net).__name__,
        "params": _plain_params(net),
        "fitted": fitted,
        "module": {k: v.detach().cpu() for k, v in net.module_.state_dict().items()},
    }
    for name in type(net)._fitted_nets:
        sub_net = getattr(net, name, None)
        if sub_net is not None:
            state[name] = _net_state(sub_net)
    return state


def _voting_weights(weights):
    # np.average reads weights through np.asarray, so its list predicts bit-identically;
    # weights that are not numbers cannot be left out (they change the predictions).
    array = None if weights is None else np.asarray(weights)
    if array is not None and (array.ndim != 1 or array.dtype.kind not in "biuf"):
        raise TypeError(
            "save_model stores a VotingRegressor whose weights are a list of numbers or "
            f"None, not {weights!r}. Use joblib for other objects (and load such files "
            "only from trusted sources)."
        )
    return None if array is None else array.tolist()


def _voting_state(model):
    check_is_fitted(model)
    for name, member in model.estimators:
        # A dropped member leaves estimators_ shorter than the names: refuse it rather
        # than store a model whose members no longer line up with their names.
        if isinstance(member, str) or type(member).__name__ not in _NETS:
            raise TypeError(
                "save_model stores a VotingRegressor whose members are this package's "
                f"networks ({', '.join(_NETS)}); member {name!r} is {member!r}. Remove "
                "it, or use joblib for other objects (and load such files only from "
                "trusted sources)."
            )
    return {
        "class": "VotingRegressor",
        "params": {**_plain_params(model), "weights": _voting_weights(model.weights)},
        "members": [(n, _net_state(m)) for (n, _), m in zip(model.estimators, model.estimators_)],
        "fitted": _fitted_attributes(model),  # feature_names_in_; n_features_in_ is derived
    }


def _step_state(step):
    name = type(step).__name__
    if name in _NETS:
        return _net_state(step)
    if type(step) is VotingRegressor:
        return _voting_state(step)
    if name in _TRANSFORMERS:
        return {"class": name, "params": _plain_params(step), "fitted": _fitted_attributes(step)}
    raise TypeError(
        f"save_model stores this package's estimators and pipelines of them; {name} is not "
        "one. Use joblib for other objects (and load such files only from trusted sources)."
    )


def save_model(model: BaseEstimator, path: str | os.PathLike) -> None:
    """Write a fitted estimator or pipeline to ``path`` in a non-executable format.

    The file is written to a temporary name beside ``path`` and renamed into
    place, so a failure never leaves a half-written model.

    Parameters
    ----------
    model : IGMTFRegressor, RNNRegressor, a VotingRegressor of them, a fitted transformer of this package, or a Pipeline of them
        The fitted model. A VotingRegressor's members must all be this package's
        networks (no ``'drop'``), and its ``weights`` a list of numbers or None.
    path : str or path-like
        Where to write (conventionally ``*.pt``).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from sklearn.pipeline import make_pipeline
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.nets import load_model, save_model
    >>> from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm
    >>> X = Alpha360(window=5).fit_transform(make_stock_panel(8, 30, random_state=0))
    >>> steps = make_pipeline(RobustZScoreNorm(), Fillna()).fit(X)  # or a fitted net
    >>> folder = tempfile.mkdtemp()
    >>> save_model(steps, os.path.join(folder, "model.pt"))
    >>> os.listdir(folder)
    ['model.pt']
    >>> shutil.rmtree(folder)
    """
    if isinstance(model, Pipeline):
        body = {"class": "Pipeline", "steps": [(n, _step_state(s)) for n, s in model.steps]}
    else:
        body = _step_state(model)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": body}
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def _restore_fitted(estimator, fitted):
    for name, value in fitted.items():
        if isinstance(value, torch.Tensor):
            value = value.numpy()
        elif name == "feature_names_in_":
            value = np.asarray(value, dtype=object)
        setattr(estimator, name, value)


def _load_net(state, device):
    # The stored device is where the model was trained: build on the requested one, so
    # that initialize() never touches a device this machine may not have.
    net = _NETS[state["class"]](**{**_restore_params(state["params"]), "device": device})
    _restore_fitted(net, state["fitted"])
    net.initialize()
    net.module_.load_state_dict(state["module"])
    net.module_.to(device)  # the memory bank buffers adopt the stored tensors' device
    for name in type(net)._fitted_nets:
        setattr(net, name, _load_net(state[name], device) if name in state else None)
    return net


def _load_voting(state, device):
    members = [(name, _load_step(member, device)) for name, member in state["members"]]
    # As fit leaves it: unfitted clones as the parameter, the fitted members beside them.
    model = VotingRegressor([(n, clone(m)) for n, m in members], **state["params"])
    model.estimators_ = [member for _, member in members]
    model.named_estimators_ = Bunch(**dict(members))
    _restore_fitted(model, state["fitted"])
    return model


def _load_step(state, device):
    name = state.get("class")
    if name in _NETS:
        return _load_net(state, device)
    if name == "VotingRegressor":
        return _load_voting(state, device)
    if name in _TRANSFORMERS:
        step = _TRANSFORMERS[name](**state["params"])
        _restore_fitted(step, state["fitted"])
        return step
    raise ValueError(
        f"The model file names an unknown class {name!r}: it was not written by "
        "igmtf-sklearn, or by a newer release of it (upgrade to load it)."
    )


def load_model(path: str | os.PathLike, *, device: str = "cpu") -> BaseEstimator:
    """Read a model written by :func:`save_model`; no code in the file is run.

    Parameters
    ----------
    path : str or path-like
        The file.
    device : str, default="cpu"
        Device for the networks: a model trained on ``"cuda"`` loads on a
        CPU-only machine.

    Returns
    -------
    model : estimator or Pipeline
        Fitted, ready to ``predict``.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from sklearn.pipeline import make_pipeline
    >>> from igmtf_sklearn.datasets import make_stock_panel
    >>> from igmtf_sklearn.nets import load_model, save_model
    >>> from igmtf_sklearn.preprocessing import Alpha360, Fillna, RobustZScoreNorm
    >>> X = Alpha360(window=5).fit_transform(make_stock_panel(8, 30, random_state=0))
    >>> steps = make_pipeline(RobustZScoreNorm(), Fillna()).fit(X)  # or a fitted net
    >>> folder = tempfile.mkdtemp()
    >>> save_model(steps, os.path.join(folder, "model.pt"))
    >>> loaded = load_model(os.path.join(folder, "model.pt"), device="cpu")
    >>> loaded.transform(X).equals(steps.transform(X))
    True
    >>> shutil.rmtree(folder)
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"No model file at {os.fspath(path)!r}.") from None
    except Exception as error:  # an unsafe or foreign file: say so rather than unpickle it
        raise ValueError(
            f"{os.fspath(path)!r} is not a model file written by save_model (or it holds "
            f"objects other than tensors and plain values, which are refused): {error}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not an igmtf-sklearn model file.")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} has model format version {version}; this igmtf-sklearn "
            f"reads version {FORMAT_VERSION}. Load it with the igmtf-sklearn release that "
            "wrote it, or refit the model."
        )
    body = payload["model"]
    if body.get("class") == "Pipeline":
        return Pipeline([(name, _load_step(state, device)) for name, state in body["steps"]])
    return _load_step(body, device)
