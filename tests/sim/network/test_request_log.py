"""Request-log links: replayed latencies in row order, running out, looping, bad rows by line."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgecloud.sim.network import RequestLogLinkSpec, TraceFormatError, read_request_log

LOG = "send_s,receive_s\n0.0,0.1\n1.0,2.0\n2.0,2.05\n"


def spec_for(tmp_path, text: str = LOG, **kwargs) -> RequestLogLinkSpec:
    path = tmp_path / "requests.csv"
    path.write_text(text)
    return RequestLogLinkSpec(log_file=path, **kwargs)


def test_replays_each_logged_latency_in_order_ignoring_size(tmp_path):
    link = spec_for(tmp_path).build(rng=np.random.default_rng(0))
    assert link.transmit(send_time_s=5.0, num_bytes=100) == pytest.approx(5.1)
    assert link.transmit(send_time_s=6.0, num_bytes=10**7) == pytest.approx(7.0)
    # latencies vary, so a later request may arrive first
    assert link.transmit(send_time_s=6.5, num_bytes=0) == pytest.approx(6.55)


def test_running_out_is_an_error_unless_looping(tmp_path):
    spec = spec_for(tmp_path)
    link = spec.build(rng=np.random.default_rng(0))
    for time_s in (0.0, 1.0, 2.0):
        link.transmit(send_time_s=time_s, num_bytes=1)
    with pytest.raises(RuntimeError, match=r"has only 3 requests.*set loop: true"):
        link.transmit(send_time_s=3.0, num_bytes=1)

    looping = spec_for(tmp_path, loop=True).build(rng=np.random.default_rng(0))
    arrivals = [looping.transmit(send_time_s=10.0, num_bytes=1) for _ in range(4)]
    assert arrivals == pytest.approx([10.1, 11.0, 10.05, 10.1])


def test_every_built_link_starts_from_the_first_row(tmp_path):
    spec = spec_for(tmp_path)
    first = spec.build(rng=np.random.default_rng(0))
    first.transmit(send_time_s=0.0, num_bytes=1)
    second = spec.build(rng=np.random.default_rng(0))
    assert second.transmit(send_time_s=0.0, num_bytes=1) == pytest.approx(0.1)


def test_header_whitespace_and_a_byte_order_mark_are_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfsend_s, receive_s\r\n1, 1.5\r\n")
    assert read_request_log(path).tolist() == [0.5]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("send_s,receive_s\n0,1\n1,x\n", ":3:", "receive_s is not a number: 'x'"),
        ("send_s,receive_s\n0,1\n2,1.5\n", ":3:", "receive_s 1.5 is earlier than send_s 2.0"),
        ("send_s,receive_s\nnan,1\n", ":2:", "send_s must be finite, got 'nan'"),
        ("send_s,receive_s\n0,1,2\n", ":2:", "expected 2 fields (send_s,receive_s)"),
        ("send_s,receive_s\n0,1\n\n1,2\n", ":3:", "expected 2 fields (send_s,receive_s), got []"),
        ("start,end\n0,1\n", ":1:", "expected header 'send_s,receive_s', got 'start,end'"),
        ("", ": ", "empty request log"),
        ("send_s,receive_s\n", ": ", "request log has a header but no requests"),
    ],
)
def test_malformed_logs_name_file_and_line(tmp_path, text, where, message):
    path = tmp_path / "requests.csv"
    path.write_text(text)
    with pytest.raises(
        TraceFormatError, match=re.escape(f"{path}{where}") + ".*" + re.escape(message)
    ):
        RequestLogLinkSpec(log_file=path)


def test_non_utf8_bytes_name_their_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"send_s,receive_s\n0,1\n\xff,2\n")
    with pytest.raises(TraceFormatError, match=re.escape(f"{path}:3: not UTF-8 text")):
        read_request_log(path)


def test_missing_log_and_bad_loop_flag(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(f"request log not found: {path}")):
        RequestLogLinkSpec(log_file=path)
    with pytest.raises(ValueError, match="loop must be true or false"):
        spec_for(tmp_path, loop="yes")
