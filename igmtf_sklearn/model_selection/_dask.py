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

from numbers import Integral
from typing import TYPE_CHECKING

import torch
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

if TYPE_CHECKING:
    import distributed

__all__ = ["configure_dask_workers"]

PLUGIN_NAME = "igmtf-torch-threads"


@validate_params(
    {
        "client": [HasMethods(["register_plugin", "run"])],
        "torch_threads": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def configure_dask_workers(client: distributed.Client, torch_threads: int = 1) -> dict[str, int]:
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
    An in-process cluster here; connect to yours with ``Client("tcp://scheduler:8786")``,
    then run the search inside ``with joblib.parallel_backend("dask"):``.

    >>> from dask.distributed import Client
    >>> from igmtf_sklearn.model_selection import configure_dask_workers
    >>> with Client(processes=False, n_workers=1, dashboard_address=None) as client:
    ...     configure_dask_workers(client, torch_threads=1)  # doctest: +ELLIPSIS
    {'inproc://...': 1}
    """
    # Imported here: Dask is an optional dependency, and this module must import without it.
    from ._dask_plugin import TorchThreadsPlugin

    plugin = TorchThreadsPlugin(int(torch_threads))
    client.register_plugin(plugin, name=PLUGIN_NAME)
    return client.run(_torch_threads)


def _torch_threads():
    return torch.get_num_threads()
