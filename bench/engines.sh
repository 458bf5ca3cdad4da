#!/usr/bin/env bash
# The README's engine comparison (as root, on this machine): the seed's matrix on Docker 20.10.24 (Debian 12)
# and Docker 26.1.5 (Debian 13), a follower's NIC cut again on each, and a rolling upgrade of a 5-node swarm
# from one to the other under load, without and with drain. Prints where each folder is; the lab is always
# taken down. REPS=5 for the whole matrix (about 2 hours; REPS=1: about 25 minutes), FOLLOWER=3 more follower
# cuts per engine.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-1}
FOLLOWER=${FOLLOWER:-3}
OUT=${OUT:-runs/engines}
P=.venv/bin/pulltheplug
trap '$P lab down --name lab >/dev/null 2>&1 || true' EXIT
mkdir -p "$OUT"
$P lab down --name lab >/dev/null
$P lab up --nodes 5 --managers 3
$P campaign scenarios/campaign-engines.yaml --repetitions "$REPS" --runs-dir "$OUT" || true  # 1: an SLO failed
follower="$(mktemp --suffix=.yaml)"
sed -e 's/^name: engines$/name: engines-follower/' -e 's/^faults: .*/faults: [nic-down]/' \
    -e 's/^targets: .*/targets: [follower]/' scenarios/campaign-engines.yaml > "$follower"
$P campaign "$follower" --repetitions "$FOLLOWER" --runs-dir "$OUT" || true
rm -f "$follower"
for scenario in rolling-upgrade rolling-upgrade-drained; do
  $P lab down --name lab >/dev/null
  $P lab up --nodes 5 --managers 3 --engine bookworm
  $P run "scenarios/$scenario.yaml" --runs-dir "$OUT" || true
done
ls -d "$OUT"/*
