"""What runs on the Dask workers for :func:`configure_dask_workers`: the thread limits.

A module of its own because it imports ``distributed`` at the top (a plugin
class must be importable on the workers to be unpickled there), and Dask is an
optional dependency. It imports nothing from ``_dask``, the client's side.
"""

from __future__ import annotations

import torch
from distributed.diagnostics.plugin import WorkerPlugin
from threadpoolctl import threadpool_limits


def limit_threads(torch_threads):
    """Set torch's and the BLAS libraries' thread counts in this process."""
    torch.set_num_threads(torch_threads)
    # numpy / scipy BLAS, used by the preprocessing and sklearn's own steps.
    threadpool_limits(limits=torch_threads)
    return torch.get_num_threads()


class TorchThreadsPlugin(WorkerPlugin):
    """Set torch's and BLAS's thread counts when a worker starts or joins.

    Parameters
    ----------
    torch_threads : int
        Threads per worker process.
    """

    def __init__(self, torch_threads):
        self.torch_threads = torch_threads

    def setup(self, worker):
        """Apply the thread limits in the worker process."""
        limit_threads(self.torch_threads)
