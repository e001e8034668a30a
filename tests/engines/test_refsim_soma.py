"""refsim's vectorized somas (update_loihi_flat and update_tianjic_flat, taken where each
neuron has one accumulator of its own) compute what the general soma kernels do, neuron by
neuron: state, spikes, cleared accumulators, range counters and the input-limit check; and
the event list they feed delivery is np.nonzero's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from snnc.runtime import refsim_kernels as kn
from snnc.runtime.refsim import RefSim, flat_soma

from tests.fixed_strategies import LOIHI2, TIANJIC

KERNEL = LOIHI2.arith.kernel_params()
TJ = TIANJIC.arith.kernel_params()
WRAP, SATURATIONS, OVER = 1, 14, 16  # the flag bits


@st.composite
def soma_cases(draw: st.DrawFn) -> dict[str, object]:
    """Random states and inputs of a few neurons; a third of them large enough to wrap u,
    saturate v or pass the input limit."""
    n = draw(st.integers(1, 60))
    batch = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo = draw(st.integers(-24, 7))
    exp = rng.integers(lo, min(lo + 31, 24) + 1, n).astype(np.int8)
    half = KERNEL.half
    wide = draw(st.booleans())
    acc_hi = 2**31 - 1 if wide else 3000
    return {
        "n_chunks": draw(st.integers(1, 3)),
        "exp": exp,
        "ring": rng.integers(-acc_hi, acc_hi + 1, (batch, n)).astype(np.int32),
        "u": rng.integers(-half + 1, half + 1, (batch, n)).astype(np.int32),
        "v": rng.integers(-half + 1, half, (batch, n)).astype(np.int32),
        "ref": rng.integers(0, 2, (batch, n)).astype(np.int32),
        "du": rng.integers(0, 4096, n).astype(np.int16),
        "dv": rng.integers(0, 4096, n).astype(np.int16),
        "bias": rng.integers(-2**12, 2**12, n).astype(np.int16),
        "vth": rng.integers(0, 2**15, n).astype(np.int16) if wide
        else rng.integers(0, 60, n).astype(np.int16),
        "layer": np.sort(rng.integers(0, 3, n)).astype(np.int8),
        "spike_v": draw(st.sampled_from([0, 0, 7])),
    }


def general(c: dict[str, object], k) -> tuple[dict[str, np.ndarray], np.ndarray, int]:  # type: ignore[no-untyped-def]
    """The general kernel on a copy: (state, events, first neuron over the limit or -1)."""
    s = {key: np.array(c[key]) for key in ("ring", "u", "v", "ref")}
    batch, n = s["u"].shape
    spikes = np.zeros((batch, n), dtype=bool)
    over = np.empty(batch, dtype=np.int64)
    events = np.zeros((batch, 3, 2), dtype=np.int64)
    kn.update_loihi_serial(np.array([0, n]), np.zeros(0, dtype=np.int32), s["ring"],
                           np.arange(n + 1, dtype=np.int32), c["exp"], s["u"], s["v"],
                           s["ref"], c["du"], c["dv"], c["bias"], c["vth"], spikes, over,
                           c["layer"], events, k)
    first = over[over >= 0]
    return {**s, "spikes": spikes}, events, int(first[0]) if len(first) else -1


@settings(max_examples=300, deadline=None)
@given(c=soma_cases(), serial=st.booleans())
def test_the_flat_loihi_soma_is_the_general_one(c: dict[str, object], serial: bool) -> None:
    k = KERNEL._replace(spike_v=c["spike_v"])
    n = len(c["exp"])
    shifts = flat_soma(LOIHI2.arith, np.arange(n + 1), c["exp"], np.int32)
    assert shifts is not None
    want, want_events, want_over = general(c, k)
    s = {key: np.array(c[key]) for key in ("ring", "u", "v", "ref")}
    batch = s["u"].shape[0]
    spikes = np.zeros((batch, n), dtype=bool)
    flags = np.full((batch, n), 255, dtype=np.uint8)
    fn = kn.update_loihi_flat_serial if serial else kn.update_loihi_flat
    seen = fn(c["n_chunks"], s["ring"], *shifts, s["u"], s["v"], s["ref"], c["du"], c["dv"],
              c["bias"], c["vth"], spikes, flags, k)
    for key in ("ring", "u", "v", "ref"):
        np.testing.assert_array_equal(s[key], want[key], err_msg=key)
    np.testing.assert_array_equal(spikes, want["spikes"])
    assert not s["ring"].any()
    assert seen == np.bitwise_or.reduce(flags, axis=None)
    assert_flags(flags, c["layer"], want_events, want_over)


def assert_flags(flags: np.ndarray, layer: np.ndarray, want_events: np.ndarray,
                 want_over: int) -> None:
    """flag_events reads the flags into the general kernel's range counters and first
    neuron over the input limit."""
    batch = flags.shape[0]
    events, first = np.zeros((batch, 3, 2), dtype=np.int64), np.empty(batch, dtype=np.int64)
    kn.flag_events(flags, layer, events, first)
    np.testing.assert_array_equal(events, want_events)
    got_first = first[first >= 0]
    assert (int(got_first[0]) if len(got_first) else -1) == want_over


def test_the_random_soma_cases_wrap_saturate_and_overflow() -> None:
    """The cases above do reach each flag, and spike both ways."""
    from hypothesis import find

    for flag in (WRAP, SATURATIONS, OVER):
        def hits(c, flag=flag) -> bool:  # type: ignore[no-untyped-def]
            n = len(c["exp"])
            s = {key: np.array(c[key]) for key in ("ring", "u", "v", "ref")}
            flags = np.zeros(s["u"].shape, dtype=np.uint8)
            kn.update_loihi_flat_serial(1, s["ring"], *flat_soma(
                LOIHI2.arith, np.arange(n + 1), c["exp"], np.int32), s["u"], s["v"],
                s["ref"], c["du"], c["dv"], c["bias"], c["vth"],
                np.zeros(s["u"].shape, dtype=bool), flags, KERNEL)
            return bool((flags & flag).any() and ((flags & flag) == 0).any())

        find(soma_cases(), hits, settings=settings(database=None, max_examples=500))


def test_flat_soma_only_where_each_neuron_has_its_own_accumulator() -> None:
    exp = np.array([-3, 0, 5], dtype=np.int8)
    lshift, rshift = flat_soma(LOIHI2.arith, np.arange(4), exp, np.int32)
    assert rshift == 3 and list(lshift) == [0, 3, 8]
    assert flat_soma(LOIHI2.arith, np.array([0, 1, 1, 3]), exp, np.int32) is None  # 0 and 2
    assert flat_soma(LOIHI2.arith, np.arange(4), exp, np.int64) is None  # wide accumulators
    assert flat_soma(LOIHI2.arith, np.arange(3), np.array([-24, 8], dtype=np.int8),
                     np.int32) is None  # a shift by 32 could leave int64
    assert flat_soma(TIANJIC.arith, np.arange(4), exp, np.int64) is not None  # saturated
    assert flat_soma(TIANJIC.arith, np.arange(3), np.array([-1, 31], dtype=np.int8),
                     np.int32) is None  # 32-bit accumulators shifted by 32


@st.composite
def tianjic_cases(draw: st.DrawFn) -> dict[str, object]:
    """Random Tianjic states, parameters and accumulators (int64, past accumulator_bits in
    some), every reset mode, with and without a current and spiking."""
    n = draw(st.integers(1, 60))
    batch = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    half = 1 << (TJ.state_bits - 1)
    big = draw(st.booleans())
    lim = (1 << (TJ.accumulator_bits + 1)) if big else 3000
    scale = half if big else 2000
    return {
        "n_chunks": draw(st.integers(1, 3)),
        "exp": rng.integers(-2, 9, n).astype(np.int8),
        "ring": rng.integers(-lim, lim + 1, (batch, n)),
        "u": rng.integers(-half, half, (batch, n)).astype(np.int32),
        "v": rng.integers(-half, half, (batch, n)).astype(np.int32),
        "ref": rng.integers(-1, 4, (batch, n)).astype(np.int32),
        "au": rng.integers(0, 257, n).astype(np.int16),
        "av": rng.integers(0, 257, n).astype(np.int16),
        "ibias": rng.integers(-scale, scale, n).astype(np.int32),
        "beta": rng.integers(-scale, scale, n).astype(np.int32),
        "vth": rng.integers(0, scale, n).astype(np.int32),
        "vreset": rng.integers(-scale, scale, n).astype(np.int32),
        "reset": rng.integers(0, 4, n).astype(np.int8),
        "refractory": rng.integers(0, 4, n).astype(np.int8),
        "current": rng.random(n) < 0.5,
        "spiking": rng.random(n) < 0.8,
        "layer": np.sort(rng.integers(0, 3, n)).astype(np.int8),
    }


PARAMS = ("au", "av", "ibias", "beta", "vth", "vreset", "reset", "refractory", "current",
          "spiking")


@settings(max_examples=300, deadline=None)
@given(c=tianjic_cases(), serial=st.booleans())
def test_the_flat_tianjic_soma_is_the_general_one(c: dict[str, object], serial: bool) -> None:
    n = len(c["exp"])
    shifts = flat_soma(TIANJIC.arith, np.arange(n + 1), c["exp"], np.int64)
    assert shifts is not None
    want = {key: np.array(c[key]) for key in ("ring", "u", "v", "ref")}
    batch = want["u"].shape[0]
    want_spikes = np.zeros((batch, n), dtype=bool)
    want_events = np.zeros((batch, 3, 2), dtype=np.int64)
    kn.update_tianjic_serial(np.array([0, n]), np.zeros(0, dtype=np.int32), want["ring"],
                             np.arange(n + 1, dtype=np.int32), c["exp"], want["u"],
                             want["v"], want["ref"], *(c[p] for p in PARAMS), want_spikes,
                             c["layer"], want_events, TJ)
    got = {key: np.array(c[key]) for key in ("ring", "u", "v", "ref")}
    spikes = np.zeros((batch, n), dtype=bool)
    flags = np.full((batch, n), 255, dtype=np.uint8)
    fn = kn.update_tianjic_flat_serial if serial else kn.update_tianjic_flat
    seen = fn(c["n_chunks"], got["ring"], *shifts, got["u"], got["v"], got["ref"],
              *(c[p] for p in PARAMS), spikes, flags, TJ)
    for key in ("ring", "u", "v", "ref"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    np.testing.assert_array_equal(spikes, want_spikes)
    assert seen == np.bitwise_or.reduce(flags, axis=None)
    assert not (flags & (WRAP | OVER)).any()
    assert_flags(flags, c["layer"], want_events, -1)


def test_the_random_tianjic_cases_saturate_and_fire_in_every_reset_mode() -> None:
    from hypothesis import find

    for mode in range(4):
        def hits(c, mode=mode) -> bool:  # type: ignore[no-untyped-def]
            n = len(c["exp"])
            s = {key: np.array(c[key]) for key in ("ring", "u", "v", "ref")}
            spikes = np.zeros(s["u"].shape, dtype=bool)
            flags = np.zeros(s["u"].shape, dtype=np.uint8)
            kn.update_tianjic_flat_serial(
                1, s["ring"], *flat_soma(TIANJIC.arith, np.arange(n + 1), c["exp"], np.int64),
                s["u"], s["v"], s["ref"], *(c[p] for p in PARAMS), spikes, flags, TJ)
            mine = (c["reset"] == mode) & c["spiking"]
            return bool(spikes[:, mine].any() and (flags[:, mine] >> 1 >= 2).any())

        find(tianjic_cases(), hits, settings=settings(database=None, max_examples=1000))


@pytest.mark.parametrize("serial", [False, True])
def test_the_event_list_is_nonzero_and_writes_nothing_past_it(serial: bool, rng) -> None:  # type: ignore[no-untyped-def]
    fn = kn.events_serial if serial else kn.events
    for shape, p in [((3, 0), .5), ((1, 1), 1.0), ((1, 1), 0.0), ((4, 37), .3),
                     ((2, 100), 0.0), ((5, 2000), .2), ((3, 64), 1.0)]:
        sent = rng.random(shape) < p
        out = np.full(sent.size + 1, -7, dtype=np.int32)
        ptr = fn(sent, out)
        want = [np.flatnonzero(r) for r in sent]
        assert list(ptr) == [0, *np.cumsum([len(w) for w in want])]
        np.testing.assert_array_equal(out[:ptr[-1]], np.concatenate(want))
        assert (out[ptr[-1]:] == -7).all()


@pytest.mark.parametrize("target", ["loihi2", "tianjic"])
def test_a_layered_program_takes_the_flat_soma_and_runs_as_the_general_one(target: str, rng  # type: ignore[no-untyped-def]
                                                                          ) -> None:
    """End to end on a compiled layered network: the flat soma is taken, and a run with
    the general kernel gives the same traces and counters."""
    from snnc import api
    from snnc.backends.refsim import program

    from benchmarks.synthetic import layered

    c = api.compile(layered(3000, fanin=30, seed=2), target)
    prog = program(c.fixed, c.coremap, c.target)
    flat, plain = RefSim(dict(prog)), RefSim(dict(prog))
    assert flat.flat is not None
    plain.flat = None
    flat.prefetch_min = 0  # and delivery prefetching, as on a table past the cache
    x = {"input": rng.random((3, 12, c.fixed.inputs["input"].size)) < 0.4}
    a = flat.run(x, trace=True, counters=True)
    b = plain.run(x, trace=True, counters=True)
    assert a.counters["spikes"].sum() > 0
    for key, v in b.traces.items():
        np.testing.assert_array_equal(a.traces[key], v, err_msg=key)
    for key, v in b.counters.items():
        np.testing.assert_array_equal(a.counters[key], v, err_msg=key)
