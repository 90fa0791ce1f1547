"""The Dask worker plugin behind :func:`configure_dask_workers`.

A module of its own because it imports ``distributed`` at the top (a plugin
class must be importable on the workers to be unpickled there), and Dask is an
optional dependency.
"""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from ._dask import limit_threads


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
