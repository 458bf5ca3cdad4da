"""A resilience test as a team writes it: cut one worker's network for 5 s under load and say what users may feel.

Run it with the cluster named: `pytest docs/examples/test_resilience.py --ptp-lab lab --junitxml=report.xml`
(or `--ptp-inventory hosts.yaml` for real hosts over SSH). Without a cluster it is skipped, saying why.
"""

from __future__ import annotations

from collections.abc import Callable

from pulltheplug.api import RunResult, assert_availability, assert_no_findings, assert_recovered_within

# The probe service this repository's own lab tests share (its port on every node); a team names its own, or
# deploys its application with `workload={"stack": "compose.yaml"}`.
PROBE = {"service": "e2e-probe", "port": 8090}


def test_a_worker_losing_its_network_costs_only_its_share(ptp_run: Callable[..., RunResult]) -> None:
    result = ptp_run(fault="nic-down", target="random-worker", duration="5s",
                     rate=100, steady="3s", settle="3s", workload=PROBE)
    assert result.status == "complete"
    # straight to the nodes, the cut node's share of requests fails (one node in four): never more than that,
    # even in the worst second
    assert_availability(result, at_least=0.7, window=1.0)
    # users are served again soon after the link is back
    assert_recovered_within(result, 20)
    # the measurement itself was sound, and no other node's share suffered
    assert_no_findings(result, kinds=["unsound-measurement", "collateral"])
