"""The compose subset read for `workload.stack`, and the request shapes of the load: pure."""

from __future__ import annotations

import re

import pytest

from pulltheplug.errors import SpecError
from pulltheplug.load.plan import RequestShape
from pulltheplug.load.prober import classify_answer
from pulltheplug.spec import WorkloadSpec
from pulltheplug.swarm.stack import Port, parse_compose, probed

COMPOSE = """
services:
  web:
    image: myapp:1
    command: ["httpd", "-f"]
    environment: {PTP_NODE: "{{.Node.Hostname}}", EMPTY: null}
    ports:
      - {target: 80, published: 8096, mode: host}
      - "9000:90/udp"
    deploy:
      replicas: 2
      placement: {constraints: ["node.role==worker"], max_replicas_per_node: 1}
    networks: [back]
  cache:
    image: redis:7
    deploy: {mode: global}
networks:
  back: {driver: overlay, attachable: true}
"""


def test_the_subset_is_read_whole() -> None:
    c = parse_compose(COMPOSE, "app.yaml")
    web = c.services["web"]
    assert web.image == "myapp:1" and web.command == ["httpd", "-f"] and web.replicas == 2
    assert web.environment == ["PTP_NODE={{.Node.Hostname}}", "EMPTY="]
    assert web.ports == [Port(8096, 80, "tcp", "host"), Port(9000, 90, "udp", "ingress")]
    assert web.constraints == ["node.role==worker"] and web.max_replicas_per_node == 1
    assert web.networks == ["back"] and c.networks["back"]["attachable"] is True
    assert c.services["cache"].mode == "global" and c.services["cache"].replicas is None
    assert probed(c, "web", 8096, mesh=False) is web


@pytest.mark.parametrize(("text", "service", "port", "message"), [
    ("services: [", "web", 80, "app.yaml: not valid YAML"),
    ("version: '3'\n", "web", 80, "app.yaml: no `services:` mapping"),
    ("services:\n  web: {image: a, build: .}\n", "web", 80, "service web: build is not supported here"),
    ("services:\n  web: {command: x}\n", "web", 80, "service web: image: missing"),
    ("services:\n  web: {image: a, deploy: {resources: {}}}\n", "web", 80, "deploy.resources is not supported"),
    ("services:\n  web: {image: a, networks: [x]}\n", "web", 80, "network x is not declared"),
    ("services:\n  web: {image: a, ports: ['80']}\n", "web", 80, "write PUBLISHED:TARGET"),
    ("services:\n  web: {image: a}\n", "api", 80, "no service 'api' (it has web)"),
    ("services:\n  web: {image: a, ports: ['8080:80']}\n", "web", 9090,
     "does not publish port 9090 (it publishes 8080)"),
    ("services:\n  web: {image: a, ports: ['8080:80']}\n", "web", 8080, "through the routing mesh"),
])
def test_bad_compose_is_one_line_naming_file_service_and_key(text: str, service: str, port: int, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        probed(parse_compose(text, "app.yaml"), service, port, mesh=False)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_stack_brings_its_own_image_and_shape() -> None:
    assert WorkloadSpec.model_validate({"stack": "app.yaml", "service": "web"}).stack_name == "ptp"
    with pytest.raises(ValueError, match="come from the compose file"):
        WorkloadSpec.model_validate({"stack": "app.yaml", "replicas": 2})


def test_answers_are_judged_by_status_and_body() -> None:
    get = RequestShape()
    assert classify_answer(204, b"", get) == ("ok", None)
    assert classify_answer(503, b"", get) == ("fail", "http_5xx")
    created = RequestShape("POST", b"{}", 201, re.compile(rb'"id":'))
    assert classify_answer(201, b'{"id": 7}', created) == ("ok", None)
    assert classify_answer(200, b'{"id": 7}', created) == ("fail", "http_2xx")
    assert classify_answer(201, b"oops", created) == ("fail", "body_mismatch")
    with pytest.raises(ValueError, match="not a regular expression"):
        WorkloadSpec.model_validate({"request": {"expect_body": "("}})
