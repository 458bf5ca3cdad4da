"""Your own service on the real lab: an image archive loaded into every node, a compose file deployed as a
stack, probed with the spec's own request, and removed after the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.lab import lab as labmod
from pulltheplug.records.folder import load_run
from pulltheplug.run import experiment
from pulltheplug.run.preparation import prepare
from pulltheplug.spec import PROBE_IMAGE, parse_spec
from pulltheplug.swarm.stack import NAMESPACE

pytestmark = pytest.mark.lab

APP = "e2e-app:1"
COMPOSE = f"""
services:
  web:
    image: {APP}
    environment:
      PTP_NODE: "{{{{.Node.Hostname}}}}"
      PTP_TASK: "{{{{.Task.Name}}}}"
    ports:
      - {{target: 80, published: 8096, mode: host}}
    deploy:
      replicas: 4
      placement: {{max_replicas_per_node: 1}}
"""


def test_a_stack_from_a_compose_file_and_an_image_archive(lab: labmod.Lab, tmp_path: Path) -> None:
    # the user's image: the probe under another name, saved to an archive, then gone from every node
    c = lab.docker_client("node1")
    try:
        c.images.get(PROBE_IMAGE).tag("e2e-app", "1")
        (tmp_path / "app.tar").write_bytes(b"".join(c.images.get(APP).save(named=True)))
    finally:
        c.close()
    for n in lab.plan.nodes:
        c = lab.docker_client(n.name)
        try:
            if any(APP in i.tags for i in c.images.list()):
                c.images.remove(APP)
        finally:
            c.close()
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    text = f"""
name: e2e-stack
cluster: {{lab: ptpt}}
workload:
  stack: {tmp_path / "compose.yaml"}
  stack_name: e2estack
  service: web
  port: 8096
  images: [{tmp_path / "app.tar"}]
  request: {{method: GET, expect_status: 200, expect_body: "node=node[0-9]"}}
load: {{rate: 50, timeout: 500ms}}
fault: {{kind: nic-down, target: node2, duration: 3s}}
phases: {{steady: 2s, settle: 2s, timeout: 60s}}
"""
    folder = experiment.execute(parse_spec(text), text, lab, tmp_path / "runs")
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None
    # one task per node (4 replicas, at most 1 a node): node2, the faulted node, serves one of them
    assert run.meta.workload["service"] == "e2estack_web" and run.meta.workload["replicas"] == 4
    served = {r.node for r in run.requests if r.outcome == "ok"}
    assert served == {"node1", "node2", "node3", "node4"}
    assert any(r.outcome != "ok" and r.target == "node2" for r in run.requests)  # the fault was felt there
    for n in lab.plan.nodes:  # the archive reached every node; the stack is gone after the run
        c = lab.docker_client(n.name)
        try:
            assert any(APP in i.tags for i in c.images.list())
            if n.role == "manager":
                assert not c.services.list(filters={"label": f"{NAMESPACE}=e2estack"})
        finally:
            c.close()


def test_an_archive_that_does_not_load_is_one_line_and_nothing_is_deployed(lab: labmod.Lab, tmp_path: Path) -> None:
    from pulltheplug.errors import SpecError

    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "bad.tar").write_bytes(b"not a tar")
    text = f"""
cluster: {{lab: ptpt}}
workload: {{stack: {tmp_path / "compose.yaml"}, stack_name: e2ebad, service: web, port: 8096,
            images: [{tmp_path / "bad.tar"}]}}
fault: {{kind: none}}
"""
    with pytest.raises(SpecError, match=r"bad.tar does not load on node1"):
        prepare(parse_spec(text), lab)
    c = lab.docker_client("node1")
    try:
        assert not c.services.list(filters={"label": f"{NAMESPACE}=e2ebad"})
    finally:
        c.close()
