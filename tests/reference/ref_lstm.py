"""Reference cases for the LSTM ops and nn::LSTM (engine/ops_lstm.cpp, engine/nn/lstm.cpp).

Op names match the C++ registry in tests/test_reference_lstm.cpp. PyTorch runs
torch.nn.LSTM / torch.nn.LSTMCell with the fixture's weights put in place of its
parameters (so gradients with respect to every weight are compared too), in float64.
Variable lengths go through pack_padded_sequence(..., enforce_sorted=False) and
pad_packed_sequence(..., total_length=T), PyTorch's own packed-sequence semantics.
Each case's output is the concatenation of the flattened results (output, h_n, c_n),
so one R weighs all of them.

  lstm_layer   one layer, one direction: inputs x [T, B, I], w_ih, w_hh, b_ih, b_hh,
               then lengths (int64) if params.lengths, then h0, c0 [B, H] if params.state.
               The reverse direction is the "_reverse" half of a bidirectional nn.LSTM
               whose forward half gets fixed (non-fixture) weights and a zero state.
  lstm_cell    inputs x [B, I], then h, c if params.state, then w_ih, w_hh, then b_ih,
               b_hh if params.bias.
  lstm_module  inputs x, then lengths if params.lengths, then h0, c0 [L*D, B, H] if
               params.state, then the weights in nn.LSTM's order, named in params.names.
"""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from generate_all import Case

g = torch.Generator().manual_seed(11)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def with_weights(module, weights):
    """Replaces module's parameters by the given tensors (name -> tensor), keeping the graph."""
    for name, w in weights.items():
        del module._parameters[name]
        setattr(module, name, w)  # RNNBase.__setattr__ also refreshes _flat_weights
    return module


def run_lstm(x, weights, hidden, num_layers=1, bidirectional=False, batch_first=False, bias=True, lengths=None,
             state=None):
    """torch.nn.LSTM on x with the given weights; returns (output, h_n, c_n), output padded to x's T."""
    input_size = x.shape[-1]
    m = nn.LSTM(input_size, hidden, num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    with_weights(m, weights)
    T = x.shape[1] if batch_first else x.shape[0]
    inp = x if lengths is None else pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, (h, c) = m(inp) if state is None else m(inp, state)
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, h, c


def flat(*ts):
    return torch.cat([t.reshape(-1) for t in ts])


def weight_names(num_layers, bidirectional, bias):
    names = []
    for layer in range(num_layers):
        for sfx in ([""] + (["_reverse"] if bidirectional else [])):
            names += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}"]
            if bias:
                names += [f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
    return names


CASES = []

# ---------------------------------------------------------------- lstm_layer
T, B, I, H = 5, 4, 3, 2
LENGTHS = torch.tensor([3, 5, 1, 4])  # unsorted, one full length
for reverse in [False, True]:
    for use_lengths in [False, True]:
        for use_state in [False, True]:
            ins = [u(T, B, I), u(4 * H, I), u(4 * H, H), u(4 * H), u(4 * H)]
            if use_lengths:
                ins.append(LENGTHS.clone())
            if use_state:
                ins += [u(B, H), u(B, H)]
            fixed_fwd = {"weight_ih_l0": u(4 * H, I), "weight_hh_l0": u(4 * H, H), "bias_ih_l0": u(4 * H),
                         "bias_hh_l0": u(4 * H)}

            def fn(x, w_ih, w_hh, b_ih, b_hh, *rest, reverse=reverse, use_lengths=use_lengths,
                   use_state=use_state, fixed_fwd=fixed_fwd, B=B, H=H):
                lengths = rest[0] if use_lengths else None
                state = rest[-2:] if use_state else None
                if not reverse:
                    w = {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
                    out, h, c = run_lstm(x, w, H, lengths=lengths,
                                         state=None if state is None else (state[0][None], state[1][None]))
                    return flat(out, h[0], c[0])
                w = dict(fixed_fwd)
                w.update({"weight_ih_l0_reverse": w_ih, "weight_hh_l0_reverse": w_hh, "bias_ih_l0_reverse": b_ih,
                          "bias_hh_l0_reverse": b_hh})
                st = None
                if state is not None:
                    z = torch.zeros(1, B, H)
                    st = (torch.cat([z, state[0][None]]), torch.cat([z, state[1][None]]))
                out, h, c = run_lstm(x, w, H, bidirectional=True, lengths=lengths, state=st)
                return flat(out[..., H:], h[1], c[1])

            name = f"lstm_layer_{'rev' if reverse else 'fwd'}{'_packed' if use_lengths else ''}" \
                   f"{'_state' if use_state else ''}"
            CASES.append(Case(name, "lstm_layer", ins, fn,
                              {"reverse": reverse, "lengths": use_lengths, "state": use_state}))

# ---------------------------------------------------------------- lstm_cell
for name, Bc, Ic, Hc, use_state, bias in [("state_bias", 3, 4, 5, True, True), ("zero_state", 2, 3, 4, False, True),
                                          ("no_bias", 4, 2, 3, True, False), ("one_row", 1, 5, 1, True, True)]:
    ins = [u(Bc, Ic)] + ([u(Bc, Hc), u(Bc, Hc)] if use_state else []) + [u(4 * Hc, Ic), u(4 * Hc, Hc)]
    ins += [u(4 * Hc), u(4 * Hc)] if bias else []

    def fn(x, *rest, Ic=Ic, Hc=Hc, use_state=use_state, bias=bias):
        state = (rest[0], rest[1]) if use_state else None
        ws = rest[2:] if use_state else rest
        m = nn.LSTMCell(Ic, Hc, bias=bias)
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
        with_weights(m, dict(zip(names, ws)))
        h, c = m(x, state)
        return flat(h, c)

    CASES.append(Case(f"lstm_cell_{name}", "lstm_cell", ins, fn, {"state": use_state, "bias": bias}))

# ---------------------------------------------------------------- lstm_module
for name, T, B, I, H, L, bidir, batch_first, bias, lengths, use_state in [
        ("one_layer", 5, 3, 4, 3, 1, False, False, True, None, False),
        ("stacked_bidir_packed_state", 5, 3, 4, 3, 2, True, False, True, [5, 2, 4], True),
        ("three_layers_batch_first_packed_nobias", 6, 4, 3, 2, 3, False, True, False, [2, 6, 1, 4], False),
        ("bidir_batch_first_state", 4, 2, 3, 4, 1, True, True, True, None, True),
        ("stacked_bidir_batch_first_packed", 6, 5, 2, 3, 2, True, True, True, [6, 1, 3, 6, 2], False)]:
    D = 2 if bidir else 1
    names = weight_names(L, bidir, bias)
    ins = [u(B, T, I) if batch_first else u(T, B, I)]
    if lengths is not None:
        ins.append(torch.tensor(lengths))
    if use_state:
        ins += [u(L * D, B, H), u(L * D, B, H)]
    for n in names:
        layer = int(n.split("_l")[1].split("_")[0])
        fan_in = I if layer == 0 else H * D
        shape = (4 * H, fan_in) if n.startswith("weight_ih") else (4 * H, H) if n.startswith("weight_hh") else (4 * H,)
        ins.append(u(*shape))

    def fn(x, *rest, H=H, L=L, bidir=bidir, batch_first=batch_first, bias=bias, has_len=lengths is not None,
           use_state=use_state, names=names):
        k = 0
        lens = None
        if has_len:
            lens, k = rest[0], 1
        state = None
        if use_state:
            state, k = (rest[k], rest[k + 1]), k + 2
        out, h, c = run_lstm(x, dict(zip(names, rest[k:])), H, L, bidir, batch_first, bias, lens, state)
        return flat(out, h, c)

    CASES.append(Case(f"lstm_module_{name}", "lstm_module", ins, fn,
                      {"input_size": I, "hidden_size": H, "num_layers": L, "bidirectional": bidir,
                       "batch_first": batch_first, "bias": bias, "lengths": lengths is not None, "state": use_state,
                       "names": names}))
