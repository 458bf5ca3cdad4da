"""The probe service: what it runs and what it answers, whatever image carries it.

`GET /` answers `node=<node> task=<task>` (written at start from the service's templated env), so each
record says who served it; `GET /static.txt` is a plain static file. The lab bakes this script into its
own image (lab/image.py); on real hosts any image with busybox's `sh` and `httpd` runs it as its command
(`busybox:1.36` is multi-arch: amd64, arm64, armv7), so Raspberry Pis need nothing built.
"""

from __future__ import annotations

SCRIPT = """mkdir -p /www
echo "node=${PTP_NODE:-$(hostname)} task=${PTP_TASK:-$(hostname)}" > /www/index.html
echo "static" > /www/static.txt
# a real service stops on SIGTERM; httpd as PID 1 would ignore it and make every stop wait 10 s
httpd -f -p "${PTP_PORT:-80}" -h /www &
pid=$!
trap 'kill $pid; wait $pid; exit 0' TERM INT
wait $pid
"""
