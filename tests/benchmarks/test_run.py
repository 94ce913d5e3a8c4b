"""The benchmark harness: the process-tree sampler (CPU and peak RSS by what each process of a build is) and the
alternating one/two-worker pairs."""

import subprocess
import sys
import textwrap

import pytest

from benchmarks import run
from benchmarks.run import TreeSampler, process_role


@pytest.mark.parametrize(
    ("cmdline", "is_root", "role"),
    [
        (["/v/bin/python3", "/v/bin/claimscope", "build", "--workers", "2"], True, "flow"),
        (
            ["/v/bin/python3", "-m", "uvicorn", "--app-dir", "/v/site-packages", "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1"],
            False,
            "prefect server",
        ),
        (
            ["/v/bin/python3", "-B", "-c",
             "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=29, pipe_handle=35)",
             "--multiprocessing-fork"],
            False,
            "dask worker",
        ),
        (["/v/bin/python3", "-B", "-c", "from multiprocessing.resource_tracker import main;main(28)"], False,
         "other"),
        (["/v/bin/python3", "-m", "uvicorn", "someone.else:app"], False, "other"),
    ],
)  # fmt: skip
def test_process_role(cmdline, is_root, role):
    assert process_role(cmdline, is_root=is_root) == role


def test_sampler_splits_a_real_tree_by_role(tmp_path):
    # A root that starts a spawned multiprocessing child (as a LocalCluster starts its workers) which burns CPU
    # while the root sleeps: the child's CPU and memory must land on "dask worker", not on the flow.
    code = textwrap.dedent(
        """
        import multiprocessing as mp, sys, time

        def burn():
            block = bytearray(200 * 2**20)  # resident: written below
            for i in range(0, len(block), 4096):
                block[i] = 1
            t = time.process_time()
            while time.process_time() - t < 1.0:
                pass
            time.sleep(0.5)

        if __name__ == "__main__":
            p = mp.get_context("spawn").Process(target=burn)
            p.start()
            p.join()
            sys.exit(p.exitcode)
        """
    )
    script = tmp_path / "tree.py"  # a file: a spawned child re-imports its parent's main module
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)])
    sampler = TreeSampler(proc.pid, interval=0.05)
    sampler.start()
    assert proc.wait(timeout=60) == 0
    sampler.stop()

    cpu = sampler.cpu_by_role
    assert cpu.get("dask worker", 0) >= 0.8, cpu
    assert cpu["flow"] < cpu["dask worker"], cpu
    assert sampler.role_counts["dask worker"] == 1
    assert sampler.peak_by_role["dask worker"] >= 200 * 2**20
    assert sum(sampler.peak_by_role.values()) == sampler.peak_total
    # the child's burn lies inside the sampled span (the root's start-up may precede the first sample)
    span = sampler.cpu_between(sampler.series[0][0], sampler.series[-1][0])
    assert 0.8 <= span <= sampler.cpu_seconds + 1e-9


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0.0, 1.0),  # before the first sample: its value
        (10.0, 1.0),
        (12.5, 2.0),  # a quarter of the way from 1.0 to 5.0
        (20.0, 5.0),
        (25.0, 5.0),  # a flat stretch (a pause between processes)
        (40.0, 7.0),  # after the last sample: its value
    ],
)
def test_interpolate(t, expected):
    from benchmarks.run import _interpolate

    assert _interpolate([(10.0, 1.0), (20.0, 5.0), (30.0, 5.0), (35.0, 7.0)], t) == pytest.approx(expected)


def test_cpu_between_is_the_in_flow_share():
    sampler = TreeSampler(pid=0)
    sampler.series = [(100.0, 0.0), (110.0, 10.0), (120.0, 30.0)]
    assert sampler.cpu_between(105.0, 115.0) == pytest.approx(15.0)
    assert sampler.cpu_between(100.0, 120.0) == pytest.approx(30.0)


@pytest.mark.parametrize(
    ("pairs", "order"),
    [
        (1, [(0, 2)]),
        (2, [(0, 2), (1, 2), (1, 1)]),  # 1, 2 | 2, 1
        (3, [(0, 2), (1, 2), (1, 1), (2, 1), (2, 2)]),  # 1, 2 | 2, 1 | 1, 2
    ],
)
def test_worker_pairs_alternate_their_order(pairs, order):
    assert run.pair_order(pairs) == order


def test_the_alternating_speed_up_sums_the_times_of_each_side():
    # one worker 600 s then 500 s, two workers 330 s then 360 s: a machine that sped up between the pairs
    alt = run.alternating_speedup([600.0, 500.0], [330.0, 360.0])
    assert alt["pairs"] == pytest.approx([600 / 330, 500 / 360])
    assert alt["median"] == pytest.approx((600 / 330 + 500 / 360) / 2)
    assert alt["summed"] == pytest.approx(1100 / 690)
    assert run.alternating_speedup([3.0, 2.0, 9.0], [1.0, 1.0, 1.0])["median"] == 3.0
    with pytest.raises(ValueError):
        run.alternating_speedup([1.0], [])


@pytest.mark.parametrize("argv", [["--workers-pairs", "2"], ["--workers-compare", "--workers-pairs", "0"]])
def test_worker_pairs_need_the_comparison_and_a_positive_count(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run.main(["--n", "10", "--out", "/nonexistent/never-created", *argv])
    assert exc.value.code == 2
    assert "--workers-pairs" in capsys.readouterr().err
