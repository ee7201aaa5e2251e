"""The speed work must not change results: a search on the shared CIFAR-10 subset is pinned, and
memory layout (channels-last or not) and batched perturbations give that same genotype. The eval-mode pin (the
README search's BN mode) was computed before BN folding, the merged edge convolutions, the one-pass nwot codes and
the retained allocator (issue 20), which must not move it."""
import pytest
import torch

from search.plugins import search_config
from search.search_run import run_search

PINNED = {"batch": "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|",
          "eval": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"}


@pytest.mark.slow
@pytest.mark.parametrize("bn_mode", ["batch", "eval"])
@pytest.mark.parametrize("channels_last, batched", [(True, False), (False, True)])
def test_pinned_genotype(shared_data_dir, tmp_path, channels_last, batched, bn_mode):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = search_config(space="nb201", dataset="imagefolder", data_root=str(shared_data_dir / "cifar10-subset"),
                           channels=8, cells=2, val_channels=8, val_cells=1, batch_size=16, iterations=3,
                           validation_batches=2, seed=0, order="random", channels_last=channels_last, bn_mode=bn_mode,
                           batched=batched).validate()
        assert run_search(cfg, tmp_path / "r", progress=False)["genotype"] == PINNED[bn_mode]
    finally:
        torch.set_num_threads(threads)
