"""Parameters of the small networks many tests fit: fast, seeded and silent."""

#: An IGMTF that pretrains one epoch and trains two, on the shared small market.
SMALL_IGMTF = {
    "hidden_size": 8,
    "num_layers": 1,
    "k_day": 3,
    "n_neighbor": 4,
    "pretrain_epochs": 1,
    "max_epochs": 2,
    "verbose": 0,
    "random_state": 0,
}
#: A GRU with a learning rate high enough to move in a few epochs of the small market.
SMALL_RNN = {"hidden_size": 8, "num_layers": 1, "verbose": 0, "random_state": 0, "lr": 0.01}
