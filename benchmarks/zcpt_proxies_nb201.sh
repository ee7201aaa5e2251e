#!/usr/bin/env bash
# Zero-Cost-PT on NB201 with each proxy (Xiang et al. 2023, Table 2): the README's search (random order,
# N=10, V=100, batch 64) per proxy and seed, then `opscore report` over every finished run.
# nwot runs as the README's search; every other proxy with BN batch statistics and uniform-fixed mixing
# (the published code's setting for non-nwot proxies; see README "Mixing of a perturbed edge").
# Resumable: a finished run (result.json) is skipped, a started one continues with --resume.
# JOBS searches run at once, THREADS threads each (for a machine with more cores than one search uses well).
# On 2 cores it gains little: grasp proposals (benchmarks/proposal_vs.py, seeds 0 and 1) took 210 s two at once
# on 1 thread each, 212-239 s one after the other on 2 threads.
# The first failing search stops the script (no new search starts, the running ones finish) with its exit
# status, and no report is written.
#   PROXIES="fisher snip" SEEDS="0 1 2 3" RUNS=runs/zcpt-proxies THREADS=2 benchmarks/zcpt_proxies_nb201.sh
#   PROXIES=grasp JOBS=2 THREADS=1 RUNS=runs/zcpt-proxies benchmarks/zcpt_proxies_nb201.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/zcpt-proxies}
THREADS=${THREADS:-2}
JOBS=${JOBS:-1}
PROXIES=${PROXIES:-"synflow fisher zen zen-nobn grad_norm snip nwot grasp"}
SEEDS=${SEEDS:-"0 1 2 3"}
OPSCORE=${OPSCORE:-.venv/bin/opscore}
for name in JOBS THREADS; do
  [[ ${!name} =~ ^[1-9][0-9]*$ ]] || { echo "$name must be a positive whole number, got '${!name}'" >&2; exit 2; }
done
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
mkdir -p "$RUNS"

search() {  # one proxy and seed: fresh, or --resume where the folder exists
  local proxy=$1 seed=$2 out=$RUNS/$1-s$2 extra=() resume=()
  [[ $proxy == nwot ]] || extra=(--bn-mode batch --mixing uniform-fixed)
  [[ -d $out ]] && resume=(--resume)
  echo "$(date -u +%FT%TZ) start $proxy seed $seed" >&2
  "$OPSCORE" search --config configs/zcpt-nb201.yaml --proxy "$proxy" "${extra[@]}" --seed "$seed" \
    --data-root "$DATA/cifar10-subset/train" --benchmark-table "$DATA/nb201/nb201_cifar10_test_acc.csv" \
    --no-progress --out "$out" "${resume[@]}"
}

status=0
running=0
finish_one() {  # wait for any running search; remember the first failure
  local rc=0
  wait -n || rc=$?
  running=$((running - 1))
  if ((rc != 0 && status == 0)); then status=$rc; fi
}
for proxy in $PROXIES; do
  for seed in $SEEDS; do
    [[ -f $RUNS/$proxy-s$seed/result.json ]] && continue
    while ((running >= JOBS)); do finish_one; done
    ((status == 0)) || break 2
    search "$proxy" "$seed" &
    running=$((running + 1))
  done
done
while ((running > 0)); do finish_one; done
((status == 0)) || exit "$status"
"$OPSCORE" report "$RUNS"/*/ --out "$RUNS-report"
cat "$RUNS-report/report.md"
