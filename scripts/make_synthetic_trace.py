"""Write a synthetic LTE-like Mahimahi trace (model: edgecloud.sim.network.synthetic_trace).

    python scripts/make_synthetic_trace.py --duration-s 120 --mean-mbps 5 --seed 1 \
        --output traces/synthetic/lte-up.trace

The same arguments always write a byte-identical file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgecloud.sim.network.mahimahi import mean_capacity_mbps, read_mahimahi_trace
from edgecloud.sim.network.synthetic_trace import generate_cellular_trace, write_mahimahi_trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, required=True, help="trace length (period)")
    parser.add_argument("--mean-mbps", type=float, required=True, help="target mean capacity")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True, help="trace file to write")
    args = parser.parse_args()
    timestamps = generate_cellular_trace(
        duration_s=args.duration_s, mean_mbps=args.mean_mbps, seed=args.seed
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_mahimahi_trace(args.output, timestamps)
    written = read_mahimahi_trace(args.output)
    print(
        f"{args.output}: {len(written)} packets over {written[-1] / 1000:g} s, "
        f"mean capacity {mean_capacity_mbps(written):.2f} Mbps"
    )


if __name__ == "__main__":
    main()
