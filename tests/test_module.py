"""IGMTFModule reproduces Qlib's own forward pass, batched and at the edges."""

from pathlib import Path

import pytest
import torch

from igmtf_sklearn.module import IGMTFModule, RNNModule, load_qlib_igmtf_state_dict, pad_by_day

FIXTURE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "qlib_igmtf_forward.pt"
)
SETTINGS = {"k10_n10": (10, 10), "k3_n5": (3, 5)}


@pytest.fixture(scope="module")
def qlib_cases():
    if not FIXTURE.is_file():
        pytest.skip(f"Qlib reference fixture not found at {FIXTURE}")
    return torch.load(FIXTURE, weights_only=True)["cases"]


def _module_for(case, k_day, n_neighbor):
    module = IGMTFModule(
        d_feat=case["d_feat"],
        hidden_size=case["hidden_size"],
        num_layers=case["num_layers"],
        base_model=case["base_model"],
        k_day=k_day,
        n_neighbor=n_neighbor,
    )
    load_qlib_igmtf_state_dict(module, case["state_dict"])
    return module.eval()


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("case_number", [0, 1], ids=["GRU", "LSTM"])
def test_reproduces_qlib_forward(qlib_cases, case_number, setting):
    case = qlib_cases[case_number]
    module = _module_for(case, *SETTINGS[setting])
    with torch.no_grad():
        hidden = [module.encode(x) for x in case["x_train_days"]]
        for ours, qlib in zip(hidden, case["train_hidden_days"]):
            torch.testing.assert_close(ours, qlib, atol=1e-5, rtol=0)
        module.set_memory_bank(torch.cat(hidden), torch.tensor([len(h) for h in hidden]))
        torch.testing.assert_close(
            module.bank_day_mean, case["train_hidden_day_mean"], atol=1e-5, rtol=0
        )
        pred = module(case["x_test"])
    torch.testing.assert_close(pred, case["pred"][setting], atol=1e-5, rtol=0)


def test_padded_days_match_days_passed_alone(qlib_cases):
    case = qlib_cases[0]
    module = _module_for(case, 3, 5)
    with torch.no_grad():
        hidden = torch.cat([module.encode(x) for x in case["x_train_days"]])
        module.set_memory_bank(hidden, torch.tensor([len(x) for x in case["x_train_days"]]))
        days = [case["x_test"], case["x_test"][:7], case["x_train_days"][0][:1]]
        x, mask = pad_by_day(torch.cat(days), torch.tensor([len(d) for d in days]))
        batched = module(x, mask)
        for i, day in enumerate(days):
            torch.testing.assert_close(batched[i, : len(day)], module(day), atol=1e-6, rtol=0)


def _random_module(k_day, n_neighbor, n_train_days=4, rows=5):
    torch.manual_seed(0)
    module = IGMTFModule(d_feat=2, hidden_size=8, k_day=k_day, n_neighbor=n_neighbor).eval()
    x_train = torch.randn(n_train_days * rows, 2 * 6)
    with torch.no_grad():
        module.set_memory_bank(module.encode(x_train), torch.full((n_train_days,), rows))
    return module


def test_one_day_path_matches_padded_path_on_a_ragged_bank():
    # A single day gathers only the real rows of its chosen days; a padded batch
    # masks the padding instead. With days of 2, 5 and 3 rows, k_day=2 and
    # n_neighbor=6, the chosen days hold 5 to 8 real candidates (10 padded).
    torch.manual_seed(1)
    module = IGMTFModule(d_feat=2, hidden_size=8, k_day=2, n_neighbor=6).eval()
    counts = torch.tensor([2, 5, 3])
    with torch.no_grad():
        module.set_memory_bank(module.encode(torch.randn(int(counts.sum()), 12)), counts)
        days = [torch.randn(4, 12), torch.randn(3, 12)]
        x, mask = pad_by_day(torch.cat(days), torch.tensor([4, 3]))
        batched = module(x, mask)
        for i, day in enumerate(days):
            torch.testing.assert_close(batched[i, : len(day)], module(day), atol=1e-6, rtol=0)


def test_one_row_day_and_clamped_k():
    # k_day and n_neighbor larger than what exists are clamped, a 1-row day works
    # (Qlib's .squeeze() breaks on it).
    module = _random_module(k_day=50, n_neighbor=500)
    with torch.no_grad():
        pred = module(torch.randn(1, 12))
    assert pred.shape == (1,)
    assert torch.isfinite(pred).all()


def test_bank_travels_with_state_dict():
    module = _random_module(k_day=2, n_neighbor=3)
    fresh = IGMTFModule(d_feat=2, hidden_size=8, k_day=2, n_neighbor=3).eval()
    assert not fresh.has_memory_bank
    fresh.load_state_dict(module.state_dict())
    x = torch.randn(6, 12)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), module(x), atol=0, rtol=0)


def test_forward_without_bank_says_what_to_do():
    with pytest.raises(RuntimeError, match="set_memory_bank"):
        IGMTFModule(d_feat=2, hidden_size=4)(torch.randn(3, 12))


def test_rejects_unknown_base_model():
    with pytest.raises(ValueError, match="GRU' or 'LSTM"):
        RNNModule(base_model="Transformer")


def test_rnn_module_matches_qlib_layout():
    module = RNNModule(d_feat=3, hidden_size=4, num_layers=1, base_model="LSTM")
    assert set(module.state_dict()) == {
        "rnn.weight_ih_l0",
        "rnn.weight_hh_l0",
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
        "fc_out.weight",
        "fc_out.bias",
    }
    assert module(torch.randn(5, 3 * 7)).shape == (5,)


# -- same_day_neighbors: a cross-sectional graph beside the past days' ---------------------
def _same_day_module(same_day_neighbors):
    torch.manual_seed(2)
    module = IGMTFModule(
        d_feat=2, hidden_size=8, k_day=2, n_neighbor=3, same_day_neighbors=same_day_neighbors
    ).eval()
    counts = torch.tensor([4, 5, 3])
    with torch.no_grad():
        module.set_memory_bank(module.encode(torch.randn(int(counts.sum()), 12)), counts)
    return module


def test_same_day_graph_starts_as_qlibs_model_and_adds_only_its_own_layer():
    module = _same_day_module(3)
    qlib = IGMTFModule(d_feat=2, hidden_size=8, k_day=2, n_neighbor=3).eval()
    extra = set(module.state_dict()) - set(qlib.state_dict())
    assert extra == {"same_day_out.weight", "same_day_out.bias"}
    qlib.load_state_dict({k: v for k, v in module.state_dict().items() if k not in extra})
    x = torch.randn(6, 12)
    with torch.no_grad():
        torch.testing.assert_close(module(x), qlib(x), atol=0, rtol=0)


@pytest.mark.parametrize("n_peers", [2, 4], ids=["top-2", "every other row"])
def test_same_day_aggregate_keeps_the_most_similar_peers(n_peers):
    # Of five rows, each keeps its n_peers most similar others, weighted cos / n_peers,
    # and never itself (with 4, every other row of its day).
    module = _same_day_module(n_peers)
    h = torch.randn(1, 5, 8)
    with torch.no_grad():
        aggregate = module._same_day_aggregate(h, torch.ones(1, 5, dtype=torch.bool))
        query, keys = module.project1(h[0]), module.project2(h[0])
        cos = torch.nn.functional.cosine_similarity(query[:, None], keys[None], dim=-1)
        for row in range(5):
            others = [j for j in range(5) if j != row]
            top = sorted(others, key=lambda j: -cos[row, j])[:n_peers]
            expected = sum(cos[row, j] / n_peers * keys[j] for j in top)
            torch.testing.assert_close(aggregate[0, row], expected, atol=1e-5, rtol=0)


def test_same_day_module_loads_qlibs_checkpoint(qlib_cases):
    # Its extra layer starts at zero: Qlib's weights make it Qlib's model exactly.
    case = qlib_cases[0]
    module = IGMTFModule(
        d_feat=case["d_feat"],
        hidden_size=case["hidden_size"],
        num_layers=case["num_layers"],
        base_model=case["base_model"],
        same_day_neighbors=5,
    )
    load_qlib_igmtf_state_dict(module, case["state_dict"])
    assert not module.same_day_out.weight.any()


def test_same_day_graph_on_padded_days_matches_days_passed_alone():
    # Padding is nobody's neighbour; a 1-row day has no peers and gets a zero aggregate.
    module = _same_day_module(3)
    torch.nn.init.normal_(module.same_day_out.weight)
    days = [torch.randn(6, 12), torch.randn(2, 12), torch.randn(1, 12)]
    x, mask = pad_by_day(torch.cat(days), torch.tensor([6, 2, 1]))
    with torch.no_grad():
        batched = module(x, mask)
        for i, day in enumerate(days):
            torch.testing.assert_close(batched[i, : len(day)], module(day), atol=1e-6, rtol=0)
        one_row = torch.ones(1, 1, dtype=torch.bool)
        assert not module._same_day_aggregate(module.encode(days[2])[None], one_row).any()
