"""One seed derivation and the named seed streams of every command, in one place.

A stream is the first integer after the run's seed in `derive_seed(seed, STREAM, ...)`, so the random
draws of different purposes never share a generator state. The values are part of the results
(changing one changes the genotypes a seed gives); streams of different commands may reuse a number.
"""
from __future__ import annotations

import numpy as np

SEED_MAX = 2**63 - 1  # the largest seed torch.manual_seed and every settings field take

# opscore search (Zero-Cost-PT)
SUPERNET_INIT = 0        # weights of the untrained supernet A_0
PROPOSAL = 1             # per iteration i: (PROPOSAL, i) batches, (.., i, 1) order RNG, (.., i, 2) torch RNG
VALIDATION = 2           # (VALIDATION,) batches, (.., 1) torch RNG, (.., 7) candidate network weights
# opscore train-supernet
TRAIN_SUPERNET_INIT = 0  # alphas and weights
TRAIN_SUPERNET_EPOCH = 21  # per epoch t: (.., t) torch RNG, (.., t, 1) / (.., t, 2) train / valid loaders
SUPERNET_SPLIT = 11      # the train/validation split of the training set
# opscore proxies
PROXIES_SAMPLE, PROXIES_INIT, PROXIES_DATA = 41, 42, 43
# opscore analyze op-scoring
OP_SCORING_DATA, OP_SCORING_ALPHA = 51, 52
# opscore search baselines (random, naswot, evolution, tenas)
BASELINE_SAMPLE = 61     # architectures drawn (random, naswot) and the evolution's draws
BASELINE_SCORE = 62      # (BASELINE_SCORE, score_seed) minibatch; (.., score_seed, 1) every network's weights
TENAS_PRUNE = 63         # (.., round) the minibatch of each pruning round; (.., 0, 1) the supernet's weights;
#                          (.., round, 1) the round's region crops; (.., 0, 2) the thin copy's weights
# opscore train (train_final)
TRAIN_INIT, TRAIN_STEPS, TRAIN_LOADER = 0, 1, 2


def derive_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (NumPy SeedSequence): independent streams per purpose."""
    words = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32).astype(np.uint64)
    return int((words[0] | (words[1] << np.uint64(32))) >> np.uint64(1))
