"""Running a search on a Dask cluster (optional dependency ``dask[distributed]``).

scikit-learn's searches parallelise through joblib, and joblib hands its tasks
to Dask inside ``with joblib.parallel_backend("dask"):``. What is left to set up
is torch's thread count on the workers: by default every worker process would
use all the machine's cores for each fit, and a few workers per machine then
oversubscribe the CPU many times over.

This module is the client's side; what runs on the workers is in
``_dask_plugin``, which it imports only when called, because Dask is an
optional dependency.
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["configure_dask_workers"]

PLUGIN_NAME = "igmtf-torch-threads"


def configure_dask_workers(client, torch_threads=1):
    """Limit torch's threads on every worker of a Dask cluster, present and future.

    Registers a worker plugin, which Dask runs on each connected worker now
    and on every worker that joins later (e.g. after a restart or when the
    cluster scales up). Call it right after connecting, before the first task:
    torch applies a new thread count to the threads that have not computed
    anything yet, and a worker thread that already ran torch keeps its count.

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster.
    torch_threads : int, default=1
        Threads per worker process for torch's intra-op parallelism and for
        BLAS. ``cores per machine // workers per machine`` uses the machines
        without oversubscribing them.

    Returns
    -------
    threads : dict of str to int
        Each worker's address and its torch thread count after the change.

    Notes
    -----
    Workers started by a Dask nanny (the default) already run with
    ``OMP_NUM_THREADS=1`` (Dask's ``distributed.nanny.pre-spawn-environ``),
    so torch starts single-threaded there; this helper is what sets another
    count, and what covers workers started without a nanny.

    Examples
    --------
    >>> from dask.distributed import Client  # doctest: +SKIP
    >>> import joblib  # doctest: +SKIP
    >>> client = Client("tcp://scheduler:8786")  # doctest: +SKIP
    >>> configure_dask_workers(client, torch_threads=4)  # doctest: +SKIP
    {'tcp://10.0.0.2:40123': 4, 'tcp://10.0.0.3:38011': 4}
    >>> with joblib.parallel_backend("dask"):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    if isinstance(torch_threads, bool) or not isinstance(torch_threads, numbers.Integral):
        raise ValueError(f"torch_threads must be an int >= 1, got {torch_threads!r}.")
    if torch_threads < 1:
        raise ValueError(f"torch_threads must be an int >= 1, got {torch_threads!r}.")
    # Imported here: Dask is an optional dependency, and this module must import without it.
    from ._dask_plugin import TorchThreadsPlugin

    plugin = TorchThreadsPlugin(int(torch_threads))
    client.register_plugin(plugin, name=PLUGIN_NAME)
    return client.run(_torch_threads)


def _torch_threads():
    return torch.get_num_threads()
