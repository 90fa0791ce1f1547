"""Tests of _fused_rnn: results and gradients equal nn.GRU / nn.LSTM's (float32, 1e-5)."""

import warnings

import pytest
import torch
from torch import nn

from igmtf_sklearn.nets import FusedGRU, FusedLSTM

# The private kernels module: the tests switch numba off and reset the warn-once record.
from igmtf_sklearn.nets import _fused_kernels as F

PAIRS = [(nn.GRU, FusedGRU), (nn.LSTM, FusedLSTM)]
IDS = ["GRU", "LSTM"]


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(F, "_warned", set())


@pytest.fixture
def backend():
    """The fast path needs numba (an optional dependency)."""
    if not F._numba_kernels():
        pytest.skip("numba not installed")


def _pair(base, fused, seed=0, **kw):
    torch.manual_seed(seed)
    ref = base(**kw)
    new = fused(**kw)
    new.load_state_dict(ref.state_dict())
    return ref, new


def _close(a, b, what):
    """Equal within 1e-5, relative to the magnitude of the reference (float32 sums)."""
    scale = max(1.0, b.abs().max().item())
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5 * scale, msg=lambda m: f"{what}: {m}")


def _run_both(ref, new, x, hx=None, grad_of=lambda out: out):
    """Forward + backward through both modules; compare outputs and all gradients."""
    xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
    hxs = [None, None]
    if hx is not None:

        def clone(h):
            return h.clone().requires_grad_()

        hxs = [tuple(map(clone, hx)) if isinstance(hx, tuple) else clone(hx) for _ in range(2)]
    outs = [m(xi, h) for m, xi, h in zip((ref, new), xs, hxs)]
    torch.manual_seed(1)
    (o_ref, s_ref), (o_new, s_new) = outs
    _close(o_new, o_ref, "output")
    s_ref = s_ref if isinstance(s_ref, tuple) else (s_ref,)
    s_new = s_new if isinstance(s_new, tuple) else (s_new,)
    for a, b in zip(s_new, s_ref):
        _close(a, b, "state")
    w = torch.randn_like(o_ref)
    ws = [torch.randn_like(s) for s in s_ref]
    for o, st in ((o_ref, s_ref), (o_new, s_new)):
        loss = (grad_of(o) * grad_of(w)).sum() + sum((s * v).sum() for s, v in zip(st, ws))
        loss.backward()
    _close(xs[1].grad, xs[0].grad, "d input")
    for (name, p_ref), (_, p_new) in zip(ref.named_parameters(), new.named_parameters()):
        _close(p_new.grad, p_ref.grad, f"d {name}")
    if hx is not None:
        for a, b in zip(
            hxs[1] if isinstance(hxs[1], tuple) else (hxs[1],),
            hxs[0] if isinstance(hxs[0], tuple) else (hxs[0],),
        ):
            _close(a.grad, b.grad, "d h0")


SHAPES = {  # name: (module kwargs, input shape in the module's layout)
    "igmtf": (dict(input_size=5, hidden_size=64, num_layers=2, batch_first=True), (260, 60, 5)),
    "1 layer": (dict(input_size=5, hidden_size=16, num_layers=1, batch_first=True), (7, 9, 5)),
    "3 layers": (dict(input_size=3, hidden_size=16, num_layers=3, batch_first=True), (7, 9, 3)),
    "hidden 8": (dict(input_size=6, hidden_size=8, num_layers=2, batch_first=True), (11, 5, 6)),
    "batch 1": (dict(input_size=5, hidden_size=32, num_layers=2, batch_first=True), (1, 12, 5)),
    "seq_len 1": (dict(input_size=5, hidden_size=32, num_layers=2, batch_first=True), (6, 1, 5)),
    "time-major": (dict(input_size=4, hidden_size=16, num_layers=2), (9, 7, 4)),
    "no bias": (dict(input_size=4, hidden_size=16, num_layers=2, bias=False), (9, 7, 4)),
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_matches_nn(base, fused, shape, backend):
    kw, size = SHAPES[shape]
    ref, new = _pair(base, fused, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fast path never warns
        _run_both(ref, new, torch.randn(size))


class _MaskedStack(nn.Module):
    """torch's layers one at a time, each output times a given mask on its way up: nn's
    dropout between layers with known masks (``[T, H, N]``, the fused path's layout)."""

    def __init__(self, base, masks, input_size, hidden_size, num_layers, batch_first=False, **kw):
        super().__init__()
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(
            base(size, hidden_size, 1, batch_first=batch_first, **kw) for size in sizes
        )
        # [T, H, N] -> the layers' layout: [N, T, H] batch first, else [T, N, H]
        self.masks = [m.permute(2, 0, 1) if batch_first else m.permute(0, 2, 1) for m in masks]

    def forward(self, x, hx=None):
        finals = []
        for k, layer in enumerate(self.layers):
            x, final = layer(x)
            finals.append(final)
            if k < len(self.masks):
                x = x * self.masks[k]
        if isinstance(finals[0], tuple):  # LSTM: (h_n, c_n)
            return x, tuple(torch.cat(parts) for parts in zip(*finals))
        return x, torch.cat(finals)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "time-major"])
@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_dropout_in_training_equals_torch_with_the_same_masks(
    base, fused, batch_first, backend, monkeypatch
):
    """Outputs, final states and every gradient, with the masks the fused path draws
    replaced by known ones (the ones row that carries the bias is never dropped)."""
    kw = dict(input_size=5, hidden_size=16, num_layers=3, batch_first=batch_first, dropout=0.3)
    torch.manual_seed(0)
    new = fused(**kw)
    T, N = 9, 7
    masks = [(torch.rand(T, 16, N) > 0.3).float() / 0.7 for _ in range(2)]
    ref = _MaskedStack(base, masks, **{k: v for k, v in kw.items() if k != "dropout"})
    for k, layer in enumerate(ref.layers):
        layer.load_state_dict(
            {
                name.replace(f"_l{k}", "_l0"): v
                for name, v in new.state_dict().items()
                if name.endswith(f"_l{k}")
            }
        )
    from igmtf_sklearn.nets import _fused_rnn

    drawn = []
    monkeypatch.setattr(_fused_rnn, "_dropout_masks", lambda *a: drawn.append(a[1:]) or list(masks))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dropout in training no longer falls back
        _run_both(ref, new, torch.randn((N, T, 5) if batch_first else (T, N, 5)))
    assert drawn == [(3, 16, 0.3)]


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_dropout_draws_and_where_it_applies(base, fused, backend):
    """Masks keep each element with probability 1 - p, scaled by 1 / (1 - p); training
    mode drops (with or without grad), eval mode is torch's model without dropout."""
    from igmtf_sklearn.nets import _fused_rnn

    torch.manual_seed(0)
    (mask,) = _fused_rnn._dropout_masks(torch.empty(50, 9, 400), 2, 64, 0.3)
    assert mask.shape == (50, 64, 400)
    assert mask.unique().tolist() == [0.0, pytest.approx(1 / 0.7)]
    assert (mask == 0).float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert _fused_rnn._dropout_masks(torch.empty(5, 9, 4), 1, 8, 0.3) == []  # one layer
    kw = dict(input_size=5, hidden_size=16, num_layers=2, batch_first=True, dropout=0.3)
    ref, new = _pair(base, fused, **kw)
    x = torch.randn(7, 9, 5)
    with torch.no_grad():
        ref.eval(), new.eval()
        _close(new(x)[0], ref(x)[0], "eval output")
        new.train()
        torch.manual_seed(1)
        first = new(x)[0]
        assert not torch.allclose(first, ref(x)[0], atol=1e-3)
        torch.manual_seed(1)
        assert torch.equal(new(x)[0], first)  # the masks follow torch's seed


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_igmtf_last_step_only(base, fused, backend):
    """IGMTF's use: only out[:, -1] feeds the loss."""
    ref, new = _pair(base, fused, input_size=5, hidden_size=64, num_layers=2, batch_first=True)
    _run_both(ref, new, torch.randn(260, 60, 5), grad_of=lambda o: o[:, -1])


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_initial_state_with_grad(base, fused, backend):
    ref, new = _pair(base, fused, input_size=5, hidden_size=16, num_layers=2, batch_first=True)
    h = torch.randn(2, 7, 16)
    hx = (h, torch.randn(2, 7, 16)) if base is nn.LSTM else h
    _run_both(ref, new, torch.randn(7, 9, 5), hx=hx)


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_unbatched(base, fused, backend):
    ref, new = _pair(base, fused, input_size=5, hidden_size=16, num_layers=2)
    x = torch.randn(9, 5)
    (o1, _), (o2, _) = ref(x), new(x)
    _close(o2, o1, "output")


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_prediction_no_grad(base, fused, backend):
    ref, new = _pair(base, fused, input_size=5, hidden_size=64, num_layers=2, batch_first=True)
    ref.eval(), new.eval()
    x = torch.randn(512, 60, 5)
    with torch.no_grad():
        (o1, _), (o2, _) = ref(x), new(x)
    _close(o2, o1, "output")
    assert o2.is_contiguous() and not o2.requires_grad


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_workspace_reuse_and_retain_graph(base, fused, backend):
    """Two pending graphs and a double backward: reused buffers must not leak between calls."""
    ref, new = _pair(base, fused, input_size=5, hidden_size=16, num_layers=2, batch_first=True)
    x1, x2 = torch.randn(40, 30, 5), torch.randn(40, 30, 5)
    for m in (ref, new):
        o1, o2 = m(x1)[0], m(x2)[0]
        loss = o1.square().sum() + o2[:, -1].sum()
        loss.backward(retain_graph=True)
        loss.backward()
    for (name, p_ref), (_, p_new) in zip(ref.named_parameters(), new.named_parameters()):
        _close(p_new.grad, p_ref.grad, f"d {name}")


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
def test_state_dict_both_ways(base, fused):
    kw = dict(input_size=5, hidden_size=16, num_layers=2, batch_first=True)
    torch.manual_seed(0)
    a, b = base(**kw), fused(**kw)
    assert list(a.state_dict()) == list(b.state_dict())
    b.load_state_dict(a.state_dict())
    c = base(**kw)
    c.load_state_dict(b.state_dict())
    for k, v in a.state_dict().items():
        assert torch.equal(c.state_dict()[k], v) and torch.equal(b.state_dict()[k], v)


@pytest.mark.parametrize("base,fused", PAIRS, ids=IDS)
@pytest.mark.parametrize("case", ["float64", "bidirectional"])
def test_fallback_identical_and_warns_once(base, fused, case):
    kw = dict(input_size=5, hidden_size=16, num_layers=2, batch_first=True)
    if case == "bidirectional":
        kw["bidirectional"] = True
    ref, new = _pair(base, fused, **kw)
    x = torch.randn(7, 9, 5)
    if case == "float64":
        ref, new, x = ref.double(), new.double(), x.double()
    outs = []
    for m in (ref, new):
        torch.manual_seed(3)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = m(x)[0]
            m(x)  # second call: no second warning
        outs.append(out)
        if m is new:
            assert len([w for w in rec if "fast path" in str(w.message)]) == 1
    assert torch.equal(outs[0], outs[1])


def test_gpu_or_disabled_is_silent(monkeypatch):
    """use_fused=False (like a GPU module) falls back without a warning."""
    ref, new = _pair(nn.GRU, FusedGRU, input_size=5, hidden_size=8, num_layers=1)
    new.use_fused = False
    x = torch.randn(4, 3, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(new(x)[0], ref(x)[0])


def test_missing_numba_falls_back_and_warns_once(monkeypatch):
    monkeypatch.setattr(F, "_nb", False)  # as if numba were not installed
    ref, new = _pair(nn.GRU, FusedGRU, input_size=5, hidden_size=8, num_layers=2)
    x = torch.randn(4, 3, 5)
    with pytest.warns(RuntimeWarning, match="pip install numba"):
        out = new(x)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new(x)
    assert torch.equal(out, ref(x)[0])
