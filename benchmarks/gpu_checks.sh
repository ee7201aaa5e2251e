#!/bin/bash
# The GPU checks in one run (for a lent GPU machine with PyTorch installed):
# training-step images/s of the ImageNet MobileNet recipe (fp32/bf16 x contiguous/channels-last), the grouped
# (batched) perturbation path against the sequential one, an end-to-end search and a short training run on
# CUDA, and the test suite with CUDA visible. Logs go to $OUT (default ./gpu-checks). On an H200 the first run
# took 9.5 minutes before the test-suite step (the suite alone: 95 s with 15 workers): give it the most time a
# call allows, or run the steps in two calls.
#   bash benchmarks/gpu_checks.sh
set -u
OUT=${OUT:-gpu-checks}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PY:-python3}
step() { echo "== $(date +%T) $*"; }

step device
nvidia-smi -L
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(), 'cudnn', torch.backends.cudnn.version())"

step "training step, imagenet-mobilenet recipe, 224 px, batch 256"
timeout 150 $PY benchmarks/train_step.py --recipe imagenet-mobilenet --genotype k7e6 --batch-size 256 2>&1 \
  | tee "$OUT/train_step.txt"
timeout 60 $PY benchmarks/train_step.py --recipe imagenet-mobilenet --genotype k3e3 --batch-size 256 \
  --modes none/channels-last,bf16/channels-last 2>&1 | tee -a "$OUT/train_step.txt"

step "grouped (batched) vs sequential perturbations"
for spec in "nb201 64 32" "nb201 256 32" "darts 64 32" "mobilenet 64 32" "mobilenet 64 224"; do
  set -- $spec
  for mode in --batched --no-batched; do
    echo "-- $1 batch $2 ${3}px $mode"
    timeout 60 $PY benchmarks/zcpt_speed.py --device cuda --space $1 --batch-size $2 --image-size $3 $mode \
      --repeats 3 --warmup 1 --candidates 2 2>&1
  done
done | tee "$OUT/zcpt_speed.txt"
step "cuDNN autotuning (the search leaves it off): does it change the grouped MobileNet path?"
for mode in --batched --no-batched; do
  echo "-- mobilenet batch 64 32px $mode --cudnn-benchmark"
  timeout 60 $PY benchmarks/zcpt_speed.py --device cuda --space mobilenet --batch-size 64 --image-size 32 $mode \
    --cudnn-benchmark --repeats 3 --warmup 1 --candidates 2 2>&1
done | tee -a "$OUT/zcpt_speed.txt"

step "end-to-end search and training on CUDA (synthetic data)"
timeout 90 $PY -m search search --space nb201 --dataset synthetic -N 2 -V 10 --seed 0 --device cuda --no-progress \
  --out /tmp/gc-search-nb201 > "$OUT/search.txt" 2>&1; echo "search exit $?"; tail -3 "$OUT/search.txt"
timeout 90 $PY -m search train --genotype /tmp/gc-search-nb201 --dataset synthetic --epochs 1 --amp bf16 \
  --channels-last --device cuda --out /tmp/gc-train-nb201 > "$OUT/train.txt" 2>&1; echo "train exit $?"
tail -3 "$OUT/train.txt"

step "test suite with CUDA visible"
timeout 120 $PY -m pytest -q --maxfail=20 -n 12 -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/pytest.txt"
step done
