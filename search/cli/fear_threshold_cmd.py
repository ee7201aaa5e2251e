"""`opscore fear-threshold`: FEAR's threshold derived from a shallow learner on HoG features (Dey et al. 2021)."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from runtime.seeds import SEED_MAX
from runtime.settings import SettingsError, add_flags, given, load_settings, setting
from runtime.data import DataSpec, build_dataset, num_classes_of
from runtime.image_check import BAD_IMAGE_POLICIES, BAD_IMAGES_HELP

from ..validators.threshold import ThresholdSettings, derive_threshold


@dataclass
class FearThresholdConfig:
    """Settings of `opscore fear-threshold`."""

    dataset: str = setting("cifar10", "cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    data_root: str | None = setting(None, "data folder (for imagefolder: class subfolders, or train/ and test/)",
                                    path=True)
    download: bool = setting(False, "allow downloading CIFAR")
    bad_images: str = setting("fail", BAD_IMAGES_HELP, choices=BAD_IMAGE_POLICIES)
    seed: int = setting(0, "seed of the learner's weights and data order", minimum=0, maximum=SEED_MAX)
    epochs: int = setting(10, "training epochs of the shallow learner")

    def validate(self) -> "FearThresholdConfig":
        if self.epochs < 1:
            raise SettingsError(f"--epochs must be at least 1, got {self.epochs}")
        return self


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fear-threshold", help="derive FEAR's threshold (--fear-threshold) for a data set",
                       description="Train a shallow learner (HoG features, two hidden layers) on the training split; "
                                   "its training accuracy is FEAR's threshold (Dey et al. 2021: 0.6 on CIFAR-10).")
    add_flags(p, FearThresholdConfig)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_settings(FearThresholdConfig, None, given(args, FearThresholdConfig))
    spec = DataSpec(cfg.dataset, cfg.data_root, cfg.download, bad_images=cfg.bad_images)
    data = build_dataset(spec, "train", augment=False, seed=cfg.seed)
    result = derive_threshold(data, num_classes_of(data), cfg.seed, ThresholdSettings(epochs=cfg.epochs))
    print(json.dumps({**result, "dataset": cfg.dataset}))
    return 0
