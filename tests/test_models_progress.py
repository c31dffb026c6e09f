"""The jobs' progress bars (accelerated/jobs/progress.py): a tqdm bar on a terminal, plain lines elsewhere, nothing
when quiet; losses may be tensors."""
from __future__ import annotations

import io

import torch

from genspec.accelerated.jobs.progress import Progress, stage


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_stage_writes_plain_lines_and_a_last_one():
    out = io.StringIO()
    bar = Progress("job [1/2] stage", 4, stream=out, every=0.0)
    for k in range(4):
        bar.update(loss=torch.tensor(1.0 / (k + 1)), rec=0.5)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 4                 # one per step here (every = 0), no redraws
    assert lines[-1].startswith("job [1/2] stage: 4/4 (100%) elapsed ")
    assert "eta" in lines[-1] and "loss=0.25" in lines[-1] and "rec=0.5" in lines[-1]
    bar.close()                                                           # closed at total already: nothing more
    assert len(out.getvalue().splitlines()) == 4


def test_off_a_terminal_lines_are_rate_limited():
    out = io.StringIO()
    bar = Progress("s", 1000, stream=out, every=3600.0)
    for _ in range(1000):
        bar.update(loss=1.0)
    assert len(out.getvalue().splitlines()) == 1                          # only the closing line


def test_on_a_terminal_a_stage_is_a_tqdm_bar_with_its_losses():
    out = _Terminal()
    bar = Progress("t2i [2/3] denoiser", 3, stream=out)
    for _ in range(3):
        bar.update(loss=torch.tensor(0.125))
    text = out.getvalue()
    assert "\r" in text and "t2i [2/3] denoiser" in text and "3/3" in text and "loss=0.125" in text


def test_quiet_stages_write_nothing(capsys):
    bar = stage("s", 2, enabled=False)
    bar.update(loss=1.0)
    bar.update(loss=1.0)
    bar.close()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
