"""Data sets for search and training: CIFAR-10/100 (torchvision), image folders, synthetic data.

Data never comes from the network unless `download=True` is asked for; paths come from settings.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset

from .image_check import BAD_IMAGE_POLICIES, find_unreadable

if TYPE_CHECKING:  # torchvision costs ~1 s to import: each function imports it on use
    from torchvision import datasets, transforms

log = logging.getLogger(__name__)

CIFAR_MEAN = {10: (0.4914, 0.4822, 0.4465), 100: (0.5071, 0.4865, 0.4409)}
CIFAR_STD = {10: (0.2470, 0.2435, 0.2616), 100: (0.2673, 0.2564, 0.2762)}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DATASETS = ("cifar10", "cifar100", "imagefolder", "imagenet", "synthetic")


class DataError(ValueError):
    """A data setting that cannot work (missing root, wrong layout, unknown name)."""


class Cutout:
    """Zero a random square of side `length` (DeVries & Taylor 2017), as in the DARTS recipe."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        y, x = int(torch.randint(h, ())), int(torch.randint(w, ()))
        y0, y1 = max(0, y - self.length // 2), min(h, y + self.length // 2)
        x0, x1 = max(0, x - self.length // 2), min(w, x + self.length // 2)
        img = img.clone()
        img[..., y0:y1, x0:x1] = 0.0
        return img


@dataclass
class DataSpec:
    """Which data: a name, a root folder, whether downloading is allowed, sizes for synthetic data."""

    name: str = "cifar10"
    root: str | None = None
    download: bool = False
    num_classes: int | None = None
    synthetic_size: int = 512
    image_size: int = 32
    bad_images: str = "fail"  # an image folder's unreadable files: one of BAD_IMAGE_POLICIES


def native_image_size(dataset: str) -> int:
    """The side a data set's images are used at when no size is asked for: 224 for ImageNet, else 32
    (CIFAR; image folders keep their own images' size up to 64 px)."""
    return 224 if dataset == "imagenet" else 32


def cifar_transform(num_classes: int, train: bool, augment: bool, cutout: int = 0,
                    size: int = 32) -> transforms.Compose:
    """Standard CIFAR pipeline: (crop 32 pad 4 + flip [+ cutout]) + normalisation; images are resized to
    `size` first when it is not 32 (the crop then pads by size / 8)."""
    from torchvision import transforms

    t: list = [] if size == 32 else [transforms.Resize((size, size))]
    if train and augment:
        t += [transforms.RandomCrop(size, padding=max(1, size // 8)), transforms.RandomHorizontalFlip()]
    t += [transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN[num_classes], CIFAR_STD[num_classes])]
    if train and augment and cutout > 0:
        t.append(Cutout(cutout))
    return transforms.Compose(t)


def imagenet_transform(train: bool, augment: bool, size: int = 224) -> transforms.Compose:
    """DARTS ImageNet pipeline: RandomResizedCrop + flip + colour jitter; eval Resize 256 / CenterCrop 224."""
    from torchvision import transforms

    if train and augment:
        t = [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(),
             transforms.ColorJitter(0.4, 0.4, 0.4, 0.2)]
    else:
        t = [transforms.Resize(int(size * 256 / 224)), transforms.CenterCrop(size)]
    return transforms.Compose(t + [transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class SyntheticImages(Dataset):
    """Seeded Gaussian images with random labels, for smoke tests (no files needed)."""

    def __init__(self, size: int, num_classes: int, image_size: int = 32, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(size, 3, image_size, image_size, generator=g)
        self.y = torch.randint(num_classes, (size,), generator=g)
        self.classes = [str(i) for i in range(num_classes)]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], int(self.y[i])


def split_folder(root: Path, split: str) -> Path:
    """The folder of class subfolders for `split`: root/train, root/test or root/val, or root itself."""
    names = ["train"] if split == "train" else ["test", "val"]
    for n in names:
        if (root / n).is_dir():
            return root / n
    subdirs = [p for p in root.iterdir() if p.is_dir()]
    if split == "train" and subdirs and not any((p.name in ("train", "test", "val")) for p in subdirs):
        return root  # the root itself holds the class folders
    raise DataError(f"data root {root} has no {' or '.join(n + '/' for n in names)} folder of class subfolders")


def build_dataset(spec: DataSpec, split: str, augment: bool = False, cutout: int = 0, seed: int = 0) -> Dataset:
    """The `split` ('train' or 'test') of the data set named by `spec`."""
    if spec.name not in DATASETS:
        raise DataError(f"unknown dataset {spec.name!r}; choose one of: {', '.join(DATASETS)}")
    train = split == "train"
    if spec.name == "synthetic":
        n = spec.synthetic_size if train else max(64, spec.synthetic_size // 4)
        return SyntheticImages(n, spec.num_classes or 10, spec.image_size, seed=seed + (0 if train else 1))
    if not spec.root:
        raise DataError(f"dataset {spec.name!r} needs a data root (--data-root DIR)")
    root = Path(spec.root).expanduser()
    from torchvision import datasets

    if root.exists() and not root.is_dir():
        raise DataError(f"data root {root} is a file, not a folder; give the data folder")
    if spec.name in ("cifar10", "cifar100"):
        if not root.is_dir() and not spec.download:
            raise DataError(f"data root {root} does not exist (pass --download to fetch {spec.name})")
        classes = 10 if spec.name == "cifar10" else 100
        cls = datasets.CIFAR10 if classes == 10 else datasets.CIFAR100
        try:
            return cls(str(root), train=train, download=spec.download,
                       transform=cifar_transform(classes, train, augment, cutout, spec.image_size))
        except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
            raise DataError(f"{spec.name} not found under {root}: {e} (pass --download to fetch it)") from None
    if not root.is_dir():
        raise DataError(f"data root {root} does not exist")
    folder = split_folder(root, split)
    if spec.name == "imagenet" or spec.image_size > 64:
        tf = imagenet_transform(train, augment, spec.image_size)
    else:
        tf = cifar_transform(10, train, augment, cutout, spec.image_size)  # CIFAR-like folders (the shared subset)
    try:
        ds = datasets.ImageFolder(str(folder), transform=tf)
    except (FileNotFoundError, RuntimeError) as e:
        raise DataError(f"cannot read image folder {folder}: {e}") from None
    return check_images(ds, spec.bad_images)


def check_images(ds: datasets.ImageFolder, policy: str) -> datasets.ImageFolder:
    """`ds` after decoding each of its images once: an unreadable one is a DataError naming it ('fail'), or is
    left out with a warning naming it ('skip'); 'off' trusts the folder."""
    if policy not in BAD_IMAGE_POLICIES:
        raise DataError(f"bad_images must be one of {', '.join(BAD_IMAGE_POLICIES)}, got {policy!r}")
    if policy == "off":
        return ds
    start = time.perf_counter()
    bad = find_unreadable(p for p, _ in ds.samples)
    log.debug("checked %d images of %s in %.2f s", len(ds.samples), ds.root, time.perf_counter() - start)
    if not bad:
        return ds
    if policy == "fail":
        path, reason = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"image {path} cannot be read: {reason}{more}; remove or replace it, or pass "
                        "--bad-images skip to leave unreadable images out with a warning")
    for path, reason in bad:
        log.warning("skipping unreadable image %s: %s", path, reason)
    dropped = {p for p, _ in bad}
    ds.samples = [(p, t) for p, t in ds.samples if p not in dropped]
    ds.imgs, ds.targets = ds.samples, [t for _, t in ds.samples]
    if not ds.samples:
        raise DataError(f"no readable image left in {ds.root}; check the folder")
    return ds


def image_side(ds: Dataset) -> int:
    """The side of the (square) images a built data set yields: what the networks scoring them are built for."""
    x = ds[0][0]  # type: ignore[index]
    return int(x.shape[-1])


def num_classes_of(ds: Dataset) -> int:
    """Number of classes of a built data set."""
    classes = getattr(ds, "classes", None)
    if classes is None:
        raise DataError("data set does not expose its classes")
    return len(classes)


def holdout_split(n: int, val: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded (train, validation) indices of n training images; `val` is a fraction (< 1) or a count.

    The validation part is carved from the training set for model selection, so that no choice is
    ever made on the test set.
    """
    if val < 0 or (val >= 1 and val != int(val)):
        raise DataError(f"validation split must be a fraction in (0, 1) or a whole number of images, got {val}")
    count = int(round(val * n)) if val < 1 else int(val)
    if not 0 < count < n:
        raise DataError(f"validation split {val} leaves {n - count} of {n} training images; choose a smaller split")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(perm[count:]), sorted(perm[:count])
