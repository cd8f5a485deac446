"""Mahimahi links: deliveries computed by hand, mm-link's file checks with line numbers, and
property tests against a packet-by-packet reference."""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgecloud.sim.network import (
    MahimahiLink,
    MahimahiLinkSpec,
    TraceFormatError,
    mean_capacity_mbps,
    read_mahimahi_trace,
    write_mahimahi_trace,
)


def make_link(tmp_path: Path, trace: list[int], **spec_kwargs) -> MahimahiLink:
    path = tmp_path / "link.trace"
    path.write_text("".join(f"{ms}\n" for ms in trace))
    spec = MahimahiLinkSpec(trace_file=path, **spec_kwargs)
    return spec.build(rng=np.random.default_rng(0))


def send(link, time_s: float, num_bytes: int) -> float:
    return link.transmit(send_time_s=time_s, num_bytes=num_bytes)


# --- deliveries computed by hand ---------------------------------------------------------------


def test_single_packet_takes_the_first_opportunity(tmp_path):
    link = make_link(tmp_path, [1, 3, 5])
    assert send(link, 0.0, 100) == 0.001


def test_message_is_split_into_mtu_packets(tmp_path):
    # 3000 bytes = 2 packets (opportunities 1, 3); 3001 bytes = 3 packets; 0 bytes = 1 packet
    assert send(make_link(tmp_path, [1, 3, 5]), 0.0, 3000) == 0.003
    assert send(make_link(tmp_path, [1, 3, 5]), 0.0, 3001) == 0.005
    assert send(make_link(tmp_path, [1, 3, 5]), 0.0, 0) == 0.001
    assert send(make_link(tmp_path, [1, 3, 5], packet_bytes=1000), 0.0, 3000) == 0.005


def test_repeated_timestamp_is_several_packets_in_one_millisecond(tmp_path):
    link = make_link(tmp_path, [2, 2, 2, 4])
    assert send(link, 0.0, 4500) == 0.002  # three packets, all at 2 ms
    assert send(link, 0.0, 1) == 0.004  # the 2 ms opportunities are used up


def test_trace_wraps_around_with_its_last_timestamp_as_period(tmp_path):
    # [2, 5, 5], period 5: opportunities 2, 5, 5, 7, 10, 10, 12, 15, 15, 17, ...
    link = make_link(tmp_path, [2, 5, 5])
    assert send(link, 0.0, 6 * 1500) == 0.010  # sixth opportunity
    assert send(link, 0.011, 1) == 0.012
    assert send(link, 0.0151, 1) == 0.017


def test_send_at_a_period_boundary_uses_the_previous_loops_last_opportunities(tmp_path):
    link = make_link(tmp_path, [2, 5, 5])
    assert send(link, 0.010, 2 * 1500) == 0.010  # both 10 ms opportunities (end of loop 2)
    assert send(link, 0.010, 1) == 0.012


def test_message_queues_behind_an_earlier_one_and_idle_opportunities_are_lost(tmp_path):
    link = make_link(tmp_path, list(range(1, 11)))  # one packet per ms
    assert send(link, 0.0, 4 * 1500) == 0.004  # opportunities 1..4
    assert send(link, 0.002, 1) == 0.005  # waits for the first message
    assert send(link, 0.009, 1) == 0.009  # 6, 7 and 8 passed unused
    assert send(link, 0.009, 3 * 1500) == 0.012  # 10, then 11 and 12 of the second loop


def test_send_at_a_fractional_millisecond_waits_for_the_next_opportunity(tmp_path):
    link = make_link(tmp_path, list(range(1, 11)))
    assert send(link, 0.0025, 1) == 0.003


def test_opportunity_is_usable_iff_its_time_is_not_before_the_send_time(tmp_path):
    link = make_link(tmp_path, [1])  # one packet every millisecond, 12 Mbps
    assert send(link, 0.007, 1) == 0.007  # exactly at the send millisecond
    # one ulp after 43 ms: 0.043000000000000003 * 1000 rounds to 43.0, yet 43 ms is too early
    just_after = math.nextafter(0.043, 1.0)
    assert send(link, just_after, 1) == 0.044
    # 2.007 * 1000 rounds up to 2007.0000000000002, yet the 2007 ms opportunity is usable
    assert send(link, 2.007, 1) == 2.007


def test_propagation_delay_is_added_after_the_last_packet(tmp_path):
    link = make_link(tmp_path, [1, 3, 5], propagation_delay_s=0.02)
    assert send(link, 0.0, 3000) == pytest.approx(0.023)


def test_random_start_is_deterministic_per_seed_and_inside_the_period(tmp_path):
    # one opportunity per 10 ms period: a send at 0 reveals the start offset o as 10 - arrival
    path = tmp_path / "one.trace"
    path.write_text("10\n")
    spec = MahimahiLinkSpec(trace_file=path, random_start=True)
    offsets = []
    for seed in range(200):
        arrival = send(spec.build(rng=np.random.default_rng(seed)), 0.0, 1)
        assert send(spec.build(rng=np.random.default_rng(seed)), 0.0, 1) == arrival
        offsets.append(round(10 - arrival * 1000))
    assert set(offsets) == set(range(10))
    fixed = MahimahiLinkSpec(trace_file=path, random_start=False)
    assert send(fixed.build(rng=np.random.default_rng(3)), 0.0, 1) == 0.010


def test_built_links_have_independent_queues(tmp_path):
    path = tmp_path / "link.trace"
    path.write_text("1\n2\n3\n")
    spec = MahimahiLinkSpec(trace_file=path)
    first, second = (
        spec.build(rng=np.random.default_rng(0)),
        spec.build(rng=np.random.default_rng(0)),
    )
    assert send(first, 0.0, 3000) == 0.002
    assert send(second, 0.0, 1) == 0.001


def test_calls_out_of_send_order_or_with_bad_sizes_are_refused(tmp_path):
    link = make_link(tmp_path, [1, 2])
    send(link, 0.5, 10)
    with pytest.raises(ValueError, match=r"earlier than the previous message's 0\.5"):
        send(link, 0.4, 10)
    with pytest.raises(ValueError, match="num_bytes must be >= 0"):
        send(link, 0.6, -1)
    with pytest.raises(ValueError, match="num_bytes must be an integer"):
        send(link, 0.6, 1.5)
    with pytest.raises(ValueError, match="send_time_s must be finite"):
        send(link, math.nan, 1)


def test_mean_capacity(tmp_path):
    path = tmp_path / "12mbps.trace"
    path.write_text("1\n")  # the upstream README's 12 Mbps example
    assert MahimahiLinkSpec(trace_file=path).mean_capacity_mbps == pytest.approx(12.0)
    assert mean_capacity_mbps(np.array([5, 5, 10])) == pytest.approx(3 * 1500 * 8 / 0.010 / 1e6)


def test_spec_parameters_are_checked(tmp_path):
    path = tmp_path / "ok.trace"
    path.write_text("1\n")
    with pytest.raises(ValueError, match="propagation_delay_s must be >= 0"):
        MahimahiLinkSpec(trace_file=path, propagation_delay_s=-0.1)
    with pytest.raises(ValueError, match="packet_bytes must be a positive integer"):
        MahimahiLinkSpec(trace_file=path, packet_bytes=0)
    with pytest.raises(ValueError, match="random_start must be true or false"):
        MahimahiLinkSpec(trace_file=path, random_start="yes")


# --- file checks -------------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.trace"
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.trace"
    with pytest.raises(FileNotFoundError, match=re.escape(f"trace file not found: {path}")):
        read_mahimahi_trace(path)
    with pytest.raises(FileNotFoundError, match="trace file not found"):
        MahimahiLinkSpec(trace_file=path)


@pytest.mark.parametrize(
    ("data", "line", "shown"),
    [
        (b"1\n2\nabc\n4\n", 3, "'abc'"),
        (b"1\n-2\n", 2, "'-2'"),
        (b"1.5\n", 1, "'1.5'"),
        (b"1\n\n2\n", 2, "''"),
        (b"1\n2 3\n", 2, "'2 3'"),
        (b"1\n2\n\n", 3, "''"),
        (b"5\n1234567890123456789\n", 2, "'1234567890123456789' (more than 18 digits)"),
    ],
)
def test_line_that_is_not_a_millisecond_is_named(tmp_path, data, line, shown):
    path = write(tmp_path, data)
    expected = f"{path}:{line}: expected a non-negative integer millisecond, got {shown}"
    with pytest.raises(TraceFormatError, match=re.escape(expected)):
        read_mahimahi_trace(path)


def test_decreasing_timestamp_names_its_line(tmp_path):
    path = write(tmp_path, b"1\n5\n3\n7\n")
    with pytest.raises(TraceFormatError, match=re.escape(f"{path}:3: timestamp 3 is smaller")):
        read_mahimahi_trace(path)


def test_empty_file(tmp_path):
    path = write(tmp_path, b"")
    with pytest.raises(TraceFormatError, match=re.escape(f"{path}: empty trace")):
        read_mahimahi_trace(path)


def test_last_timestamp_zero(tmp_path):
    path = write(tmp_path, b"0\n0\n")
    with pytest.raises(TraceFormatError, match=re.escape(f"{path}:2: the last timestamp is 0")):
        read_mahimahi_trace(path)


def test_whitespace_around_numbers_and_a_missing_final_newline_are_accepted(tmp_path):
    path = write(tmp_path, b"1\r\n 2\r\n3\t\n4")
    assert read_mahimahi_trace(path).tolist() == [1, 2, 3, 4]


def test_published_trace_reads_and_is_read_only():
    trace = read_mahimahi_trace(Path(__file__).parents[3] / "traces/mahimahi/Verizon-LTE-short.up")
    assert len(trace) == 69367 and trace[-1] == 140000
    assert not trace.flags.writeable


# --- properties --------------------------------------------------------------------------------

timestamps = st.lists(st.integers(0, 10**12), min_size=1, max_size=100).map(sorted)


@settings(max_examples=100, deadline=None)
@given(values=timestamps.filter(lambda values: values[-1] > 0))
def test_written_trace_reads_back_identically(values):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "round_trip.trace"
        write_mahimahi_trace(path, values)
        assert read_mahimahi_trace(path).tolist() == values


def reference_parse(data: bytes) -> list[int] | int | None:
    """The values, the first bad line's number, or None for an empty file."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    values = []
    for number, raw in enumerate(lines, start=1):
        if not re.fullmatch(rb"[0-9]{1,18}", raw.strip()):
            return number
        values.append(int(raw.strip()))
    if not values:
        return None
    for number in range(1, len(values)):
        if values[number] < values[number - 1]:
            return number + 1
    return len(values) if values[-1] == 0 else values


garbage = st.one_of(
    st.binary(max_size=60),
    st.text(alphabet="0123456789\n\r \t-+.a\x00\x0b", max_size=60).map(str.encode),
    st.lists(st.integers(0, 99), max_size=20).map(lambda xs: b"\n".join(b"%d" % x for x in xs)),
)


@settings(max_examples=300, deadline=None)
@given(data=garbage)
def test_any_bytes_parse_or_fail_with_the_line_to_blame(data):
    expected = reference_parse(data)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "garbage.trace"
        path.write_bytes(data)
        if isinstance(expected, list):
            assert read_mahimahi_trace(path).tolist() == expected
            return
        with pytest.raises(TraceFormatError) as error:
            read_mahimahi_trace(path)
    prefix = f"{path}: " if expected is None else f"{path}:{expected}: "
    assert str(error.value).startswith(prefix)


def reference_arrivals(trace, start_ms, messages, packet_bytes, propagation_delay_s):
    """Packet by packet over the looped trace, the slow and obvious way."""
    period, length = trace[-1], len(trace)

    def opportunity_ms(j: int) -> int:
        return trace[j % length] + (j // length) * period - start_ms

    j, arrivals = 0, []
    for send_time_s, num_bytes in messages:
        for _ in range(max(1, math.ceil(num_bytes / packet_bytes))):
            while opportunity_ms(j) / 1000 < send_time_s:
                j += 1
            last = opportunity_ms(j)
            j += 1
        arrivals.append(last / 1000 + propagation_delay_s)
    return arrivals


@settings(max_examples=150, deadline=None)
@given(
    trace=st.lists(st.integers(0, 40), min_size=1, max_size=12)
    .map(sorted)
    .filter(lambda values: values[-1] > 0),
    gaps=st.lists(
        st.tuples(st.floats(0, 0.05, allow_nan=False), st.integers(0, 6000)), max_size=25
    ),
    start_fraction=st.floats(0, 1, exclude_max=True),
    propagation_delay_s=st.sampled_from([0.0, 0.02, 0.1]),
    packet_bytes=st.sampled_from([1500, 400]),
)
def test_arrivals_are_fifo_never_early_and_match_packet_by_packet_replay(
    trace, gaps, start_fraction, propagation_delay_s, packet_bytes
):
    start_ms = int(start_fraction * trace[-1])
    link = MahimahiLink(
        timestamps_ms=np.array(trace, dtype=np.int64),
        start_ms=start_ms,
        propagation_delay_s=propagation_delay_s,
        packet_bytes=packet_bytes,
        name="property",
    )
    messages, time_s = [], 0.0
    for gap, num_bytes in gaps:
        time_s += gap
        messages.append((time_s, num_bytes))
    arrivals = [send(link, time_s, num_bytes) for time_s, num_bytes in messages]
    assert arrivals == sorted(arrivals)
    assert all(a >= t + propagation_delay_s for a, (t, _) in zip(arrivals, messages, strict=True))
    assert arrivals == reference_arrivals(
        trace, start_ms, messages, packet_bytes, propagation_delay_s
    )
