"""Network latency sources for the simulator: Mahimahi traces, constant-rate (tc/netem) links,
an ideal link, replayed request logs, and a synthetic LTE trace generator."""

from __future__ import annotations

from edgecloud.sim.network.base import Link, LinkSpec, TraceFormatError
from edgecloud.sim.network.constant import (
    ConstantRateLink,
    ConstantRateLinkSpec,
    IdealLink,
    IdealLinkSpec,
)
from edgecloud.sim.network.mahimahi import (
    MahimahiLink,
    MahimahiLinkSpec,
    mean_capacity_mbps,
    read_mahimahi_trace,
)
from edgecloud.sim.network.request_log import RequestLogLink, RequestLogLinkSpec, read_request_log
from edgecloud.sim.network.synthetic_trace import generate_cellular_trace, write_mahimahi_trace

__all__ = [
    "ConstantRateLink",
    "ConstantRateLinkSpec",
    "IdealLink",
    "IdealLinkSpec",
    "Link",
    "LinkSpec",
    "MahimahiLink",
    "MahimahiLinkSpec",
    "RequestLogLink",
    "RequestLogLinkSpec",
    "TraceFormatError",
    "generate_cellular_trace",
    "mean_capacity_mbps",
    "read_mahimahi_trace",
    "read_request_log",
    "write_mahimahi_trace",
]
