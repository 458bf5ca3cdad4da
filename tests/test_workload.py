import pytest

from pulltheplug.errors import SpecError
from pulltheplug.workload import check_reusable, is_settled


def test_a_reused_service_must_publish_the_run_port() -> None:
    attrs = {"Spec": {"EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}}}
    check_reusable("web", attrs, 8080)
    with pytest.raises(SpecError, match=r"does not publish port 9090 \(it publishes \[8080\]\)"):
        check_reusable("web", attrs, 9090)


def test_a_service_is_settled_only_when_every_wanted_task_runs() -> None:
    assert is_settled(["running"] * 3, 3)
    assert not is_settled(["running", "running"], 3)
    assert not is_settled(["running", "running", "running", "starting"], 3)


def test_global_mode_takes_no_replica_count() -> None:
    import pytest

    from pulltheplug.spec import WorkloadSpec

    w = WorkloadSpec.model_validate({"mode": "global", "placement": ["node.role==worker"]})
    assert w.mode == "global" and w.placement == ["node.role==worker"]
    for bad in ({"mode": "global", "replicas": 2}, {"mode": "global", "max_replicas_per_node": 1}):
        with pytest.raises(ValueError, match="mode global runs one task per node"):
            WorkloadSpec.model_validate(bad)
