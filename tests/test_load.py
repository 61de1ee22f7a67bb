"""The load benchmark, small: bench/load.py against the real site (gunicorn, Redis, a worker, the shipped model).

The full run (200 uploads from 20 clients) is what the README reports; CI runs 30 from 6, which
still has clients racing each other on every upload, and checks the same guarantees.
"""

import json
import subprocess
import sys

import pytest

from tests.site_fixtures import BASE_DIR, shipped_model_dir

pytestmark = pytest.mark.real


def test_thirty_uploads_from_six_clients_are_all_coloured_once(tmp_path):
    figures_file = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "bench/load.py",
            "--uploads",
            "30",
            "--clients",
            "6",
            "--workers",
            "1",
            "--size",
            "320",
            "--model",
            str(shipped_model_dir()),
            "--timeout",
            "300",
            "--json",
            str(figures_file),
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(figures_file.read_text())
    assert (figures["accepted"], figures["done"], figures["lost"], figures["coloured_twice"]) == (30, 30, 0, 0)
    assert 0 < figures["upload_median_s"] <= figures["upload_p99_s"] < 10
    assert 0 < figures["last_done_s"] < 300
    assert "from 6 clients: 30 accepted, 30 DONE, 0 failed, 0 lost, 0 coloured twice" in result.stdout
