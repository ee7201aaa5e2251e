#!/usr/bin/env bash
# Zero-Cost-PT on NB201 with each proxy (Xiang et al. 2023, Table 2): the README's search (random order,
# N=10, V=100, batch 64) per proxy and seed, then `opscore report` over every finished run.
# nwot runs as the README's search; every other proxy with BN batch statistics and uniform-fixed mixing
# (the published code's setting for non-nwot proxies; see README "Mixing of a perturbed edge").
# Resumable: a finished run (result.json) is skipped, a started one continues with --resume.
#   PROXIES="fisher snip" SEEDS="0 1 2 3" RUNS=runs/zcpt-proxies THREADS=2 benchmarks/zcpt_proxies_nb201.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs/zcpt-proxies}
THREADS=${THREADS:-2}
PROXIES=${PROXIES:-"synflow fisher zen zen-nobn grad_norm snip nwot grasp"}
SEEDS=${SEEDS:-"0 1 2 3"}
OPSCORE=${OPSCORE:-.venv/bin/opscore}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
mkdir -p "$RUNS"
for proxy in $PROXIES; do
  extra=()
  [[ $proxy == nwot ]] || extra=(--bn-mode batch --mixing uniform-fixed)
  for seed in $SEEDS; do
    out=$RUNS/$proxy-s$seed
    [[ -f $out/result.json ]] && continue
    resume=()
    [[ -d $out ]] && resume=(--resume)
    echo "$(date -u +%FT%TZ) start $proxy seed $seed" >&2
    "$OPSCORE" search --config configs/zcpt-nb201.yaml --proxy "$proxy" "${extra[@]}" --seed "$seed" \
      --data-root "$DATA/cifar10-subset/train" --benchmark-table "$DATA/nb201/nb201_cifar10_test_acc.csv" \
      --no-progress --out "$out" "${resume[@]}"
  done
done
"$OPSCORE" report "$RUNS"/*/ --out "$RUNS-report"
cat "$RUNS-report/report.md"
