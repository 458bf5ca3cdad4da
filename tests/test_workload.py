import http.server
import json
import socket
import socketserver
import threading
import time
from pathlib import Path

import pytest

from pulltheplug.errors import SpecError
from pulltheplug.swarm.workload import check_reusable, is_settled


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


def test_waiting_for_tasks_outlasts_a_manager_that_does_not_answer(tmp_path: Path) -> None:
    """A manager without a leader (a follower just back from a NIC cut: 11 to 29 s here) holds API calls
    past the client's timeout; the wait asks again until its own deadline instead of failing the run. Served
    by a real HTTP server on a unix socket, to a real docker-py client."""
    import docker

    from pulltheplug.swarm.workload import wait_running

    asked: list[float] = []

    class Manager(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(time.monotonic())
            if "/tasks" in self.path and len(asked) == 1:
                time.sleep(1.5)  # past the client's 1 s
            body = json.dumps([{"ID": f"t{i}", "NodeID": f"n{i}", "Status": {"State": "running"},
                                "DesiredState": "running"} for i in range(2)]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

        def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
            conn, _ = self.socket.accept()
            return conn, ("local", 0)  # http.server wants a (host, port) client address

    sock = tmp_path / "docker.sock"
    server = Server(str(sock), Manager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=1)
    try:
        wait_running(client, "web", 2, timeout=10)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    assert len(asked) >= 2  # asked again after the call that timed out


def test_entries_that_do_not_answer_are_each_named_with_what_they_did() -> None:
    """A refused run says which entries were silent and how (a closed port, a 503), not only the first."""
    from pulltheplug.errors import ClusterError
    from pulltheplug.swarm.workload import wait_answering

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.server.server_address[1] == good.server_address[1] else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    good = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    busy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    with socket.socket() as closed:  # a port nobody listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        for srv in (good, busy):
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            entries = {"node1": f"http://127.0.0.1:{closed.getsockname()[1]}/",
                       "node2": f"http://127.0.0.1:{good.server_address[1]}/",
                       "node3": f"http://127.0.0.1:{busy.server_address[1]}/"}
            with pytest.raises(ClusterError) as caught:
                wait_answering(entries, 0.5)
            message = str(caught.value)
            assert message.startswith("2 of 3 entries do not answer within 0.5s: ")
            assert f"node1 ({entries['node1']}): connection refused" in message
            assert f"node3 ({entries['node3']}): HTTP 503" in message and "node2" not in message
            wait_answering({"node2": entries["node2"]}, 0.5)
            wait_answering({"node3": entries["node3"]}, 0.5, expect_status=503)
        finally:
            for srv in (good, busy):
                srv.shutdown()
                srv.server_close()
