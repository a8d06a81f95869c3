"""C-STORE receive benchmark: dcmtk ``storescu`` sends one study to the platform's SCP, to Orthanc and to
dcmtk ``storescp``, side by side in one run; prints the times and ratios, asserts none.

Run: ``bash tests/run.sh tests/benchmarks/bench_scp.py -s -q`` (explicit path: the file name keeps it
out of the normal run). Scale with BENCH_SCP_SLICES (default 300) and BENCH_SCP_SIZE_PX (default 512);
BENCH_SCP_ROUNDS (default 2) rounds alternate the peers, and the best time of each is compared.

All three receivers write every instance to disk before answering Success: the platform fsyncs each
file into its spool (the journal) and hands the study to ingestion after the association ends, which
is timed separately ("until stored"); Orthanc writes the file and indexes it in SQLite; storescp only
writes files. One association per send, TCP_NODELAY on both sides.
"""
import os
import shutil
import subprocess
import time
import warnings

import pytest

from tests import orthanc as peer
from tests.integration.helpers import free_port
from triage.gateway.scp import StoreScp
from triage.gateway.services import create_dicom_node
from triage.studies.models import Instance

SENDER = "CT_BENCH"


def storescu_seconds(files, *, port: int, called: str) -> float:
    env = dict(os.environ, TCP_NODELAY="1")
    started = time.perf_counter()
    run = subprocess.run(["storescu", "-aet", SENDER, "-aec", called, "127.0.0.1", str(port), *map(str, files)],
                         env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stdout + run.stderr
    return seconds


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bench_scp__platform_vs_orthanc_vs_storescp(admin_a, hospital_a, study_storage, phantom_series, tmp_path):
    from tqdm import tqdm

    for binary in ("storescu", "storescp"):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} is absent: install Debian dcmtk (tests/run.sh does)")
    if reason := peer.missing():
        pytest.skip(reason)
    slices = int(os.environ.get("BENCH_SCP_SLICES", "300"))
    size_px = int(os.environ.get("BENCH_SCP_SIZE_PX", "512"))
    rounds = int(os.environ.get("BENCH_SCP_ROUNDS", "2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        files = phantom_series(slices=slices, size_px=size_px, severity="none", seed=1)
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    create_dicom_node(actor=admin_a, hospital=hospital_a, ae_title=SENDER)
    platform = StoreScp(host="127.0.0.1", port=0, ae_title="CTTRIAGE", idle_seconds=600,
                        spool_dir=tmp_path / "spool")
    platform.start()
    orthanc = peer.start(tmp_path / "orthanc", plugins=False)
    storescp_port = free_port()
    (tmp_path / "storescp").mkdir()
    storescp = subprocess.Popen(["storescp", "-aet", "STORESCP", "-od", str(tmp_path / "storescp"),
                                 str(storescp_port)], env=dict(os.environ, TCP_NODELAY="1"))
    time.sleep(0.5)
    times: dict[str, list[float]] = {"platform": [], "platform until stored": [], "orthanc": [], "storescp": []}
    try:
        for _ in tqdm(range(rounds), desc="rounds"):
            Instance.objects.all().delete()
            started = time.perf_counter()
            times["platform"].append(storescu_seconds(files, port=platform.address[1], called="CTTRIAGE"))
            assert platform.wait_until_flushed(timeout_s=300)
            times["platform until stored"].append(time.perf_counter() - started)
            assert Instance.objects.count() == slices
            orthanc.clear()
            times["orthanc"].append(storescu_seconds(files, port=orthanc.dicom_port, called=peer.AE_TITLE))
            assert len(orthanc.get("/instances")) == slices
            times["storescp"].append(storescu_seconds(files, port=storescp_port, called="STORESCP"))
    finally:
        storescp.terminate()
        orthanc.stop()
        platform.stop()
    best = {name: min(values) for name, values in times.items()}
    print(f"\nC-STORE receive, {slices} slices of {size_px}² ({megabytes:.0f} MB), one association, "
          f"best of {rounds} (all: { {k: [round(v, 2) for v in vs] for k, vs in times.items()} })")
    for name, seconds in best.items():
        print(f"  {name:<22} {seconds:6.2f} s  {megabytes / seconds:6.0f} MB/s  "
              f"{seconds / best['orthanc']:5.2f}x Orthanc  {seconds / best['storescp']:5.2f}x storescp")
