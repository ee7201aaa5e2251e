"""Progress bars only on a terminal: logs and pipes get no bar debris."""
import io

import pytest

from runtime.progress import show_progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("no_progress,stream,shown", [
    (False, Tty(), True), (True, Tty(), False), (False, io.StringIO(), False), (False, object(), False),
])
def test_bars_need_a_terminal_and_no_opt_out(no_progress, stream, shown):
    assert show_progress(no_progress, stream) is shown


def test_search_draws_no_bar_into_a_pipe(tmp_path, capsys, monkeypatch):
    from search.cli import main
    from search.cli import search_cmd

    seen = {}
    monkeypatch.setattr(search_cmd, "run_search", lambda cfg, out, resume, progress: seen.update(progress=progress)
                        or {"genotype": "x"})
    assert main(["search", "--dataset", "synthetic", "--out", str(tmp_path / "r")]) == 0
    assert seen == {"progress": False}  # pytest's captured stderr is no terminal
