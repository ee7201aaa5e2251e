"""Decode every image of an image folder once before a run uses it, so a corrupt file is found up front
(one clear line naming it) rather than as a PIL traceback in the middle of a run."""
from __future__ import annotations

from typing import Iterable

from PIL import Image

# what a run does with an unreadable image: stop naming it, leave it out with a warning, or not look
BAD_IMAGE_POLICIES = ("fail", "skip", "off")
BAD_IMAGES_HELP = ("an image folder's unreadable images (each is decoded once before the run): fail naming the first, "
                   "skip each with a warning, or off (no check)")


def unreadable_reason(path: str) -> str | None:
    """Why the image at `path` cannot be decoded (PIL's reason), or None when it decodes fully.

    A full decode (`load`), not `verify`: `verify` passes a JPEG whose tail is cut off."""
    try:
        with Image.open(path) as im:
            im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


def find_unreadable(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(path, reason) of every image among `paths` that cannot be decoded, in order."""
    bad = []
    for p in paths:
        reason = unreadable_reason(p)
        if reason is not None:
            bad.append((p, reason))
    return bad
