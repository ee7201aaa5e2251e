"""`opscore --help` and `opscore list` stay fast: building the parser imports no heavy optional stack."""
import pytest
import subprocess
import sys

HEAVY = ("torchvision", "scipy", "matplotlib", "torch.utils.tensorboard", "tensorboard")


@pytest.mark.slow
def test_parser_imports_no_heavy_modules():
    code = ("import sys; from search.cli import build_parser; build_parser(); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "", f"imported at startup: {proc.stdout.strip()}"
