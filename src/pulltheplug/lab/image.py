"""The probe image, built here from busybox-static and imported on every node: nothing is pulled.

What it runs and answers is `probe.SCRIPT`.
"""

from __future__ import annotations

import io
import shutil
import tarfile

import docker

from pulltheplug.errors import MissingToolError
from pulltheplug.spec import PROBE_IMAGE
from pulltheplug.swarm.probe import SCRIPT

APPLETS = ("sh", "httpd", "hostname", "cat", "echo", "sleep", "ls", "mkdir", "wget", "env", "kill")
START = "#!/bin/sh\n" + SCRIPT


def busybox_path() -> str:
    path = shutil.which("busybox")
    if path is None:
        raise MissingToolError("busybox is missing: run `apt-get install busybox-static`")
    return path


def rootfs_tar() -> bytes:
    """A minimal root filesystem: static busybox, its applet links, and the start script."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox_path(), arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        data = START.encode()
        info = tarfile.TarInfo("start.sh")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def import_probe(client: docker.DockerClient, tar: bytes) -> None:
    repo, tag = PROBE_IMAGE.split(":")
    client.api.import_image_from_data(
        tar, repository=repo, tag=tag, changes=['CMD ["/bin/sh", "/start.sh"]', "EXPOSE 80/tcp"]
    )
