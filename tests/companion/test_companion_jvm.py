"""The Android companion's Java protocol core, tested on the JVM against the Python desktop.

1. ``android-companion/protocol/build.sh`` compiles the core with plain javac and runs its JUnit 4
   tests over the golden vectors in tests/vectors/.
2. A differential test: the Java receive checks (``rig.companion.DecodeTool``) and the Python
   reference (``rig.protocol.messages.open_datagram``) give the same verdict on random valid,
   mutated and hand-made datagrams, and decode accepted ones to the same canonical body.
3. ``rig.companion.HeadlessPhone`` (the same core over a real UDP socket and java.net.http) runs
   against the real ``DesktopEndpoint`` through the ``NetemProxy`` fault proxy: every capture ends
   with exactly one verified photo of the frame that was on screen, including across a SIGKILL of
   the phone process.

Skipped (with the reason) when no JDK is installed. Debian: default-jdk-headless junit4.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.protocol import messages as m
from rig.protocol.auth import datagram_tag
from rig.protocol.endpoint import DesktopEndpoint
from rig.protocol.faults import parse_faults
from rig.protocol.netem import NetemProxy
from rig.protocol.phonesim import read_shots
from rig.protocol.upload import PhotoRecord

ROOT = Path(__file__).resolve().parents[2]
BUILD_SH = ROOT / "android-companion/protocol/build.sh"
JUNIT_JAR = Path("/usr/share/java/junit4.jar")
KEY = bytes(range(32))
SESSION = bytes.fromhex("0123456789abcdef")

needs_jdk = pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("java") is None,
    reason="no JDK (javac/java) on PATH; apt-get install default-jdk-headless junit4",
)


@dataclass(frozen=True)
class JvmBuild:
    classpath: str
    output: str
    returncode: int


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "android-companion/protocol").rglob("*")):
        if path.is_file() and "build" not in path.relative_to(ROOT / "android-companion").parts:
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def jvm_build(tmp_path_factory: pytest.TempPathFactory) -> JvmBuild:
    """Build (and, when junit4 is present, unit-test) the Java core once per test run: pytest-xdist
    workers share the result through a lock file instead of each running javac."""
    if shutil.which("javac") is None:
        pytest.skip("no javac on PATH; apt-get install default-jdk-headless junit4")
    shared = tmp_path_factory.getbasetemp().parent / f"companion-jvm-{_sources_digest()}"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        result = shared / "result.json"
        if result.exists():
            return JvmBuild(**json.loads(result.read_text()))
        args = [str(BUILD_SH)] if JUNIT_JAR.exists() else [str(BUILD_SH), "--no-test"]
        env = {**os.environ, "BUILD_DIR": str(shared / "build")}
        proc = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=240, check=False
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("classpath: ")]
        classpath = lines[-1].removeprefix("classpath: ") if lines else ""
        build = JvmBuild(classpath, proc.stdout + proc.stderr, proc.returncode)
        result.write_text(json.dumps(asdict(build)))
        return build


def _classes(build: JvmBuild) -> str:
    if not build.classpath:
        pytest.fail(f"the Java build failed:\n{build.output[-4000:]}")
    return build.classpath


# ------------------------------------------------------------------------------- 1. JUnit
@needs_jdk
def test_companion_junit_suite_passes(jvm_build: JvmBuild) -> None:
    if not JUNIT_JAR.exists():
        pytest.skip(f"{JUNIT_JAR} missing; apt-get install junit4")
    assert jvm_build.returncode == 0, jvm_build.output[-6000:]
    ok = [ln for ln in jvm_build.output.splitlines() if ln.startswith("OK (")]
    assert ok, jvm_build.output[-6000:]
    count = int(ok[-1].removeprefix("OK (").split()[0])
    assert count >= 30, f"only {count} JUnit tests ran"


# ------------------------------------------------------------------------------- 2. differential
def _py_verdict(data: bytes, role: int) -> str:
    try:
        msg, seq = m.open_datagram(data, KEY, SESSION, role, None)
    except m.Rejected as exc:
        return f"reject {exc.reason}"
    return f"accept {msg.TYPE} {seq} {m.canonical_json(msg.body()).decode()}"


def _java_verdicts(build: JvmBuild, grams: list[bytes], role: str) -> list[str]:
    proc = subprocess.run(
        ["java", "-cp", _classes(build), "rig.companion.DecodeTool", KEY.hex(), SESSION.hex(), role],
        input="".join(g.hex() + "\n" for g in grams),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return proc.stdout.splitlines()


def _seal_raw(mtype: int, flags: int, body: bytes, seq: int) -> bytes:
    header = m.HEADER.pack(m.MAGIC, m.VERSION, mtype, flags, 0, len(body), SESSION, seq)
    return header + body + datagram_tag(KEY, header + body)


# Bodies where a second JSON implementation most easily parts ways with Python's json.loads.
_TRICKY_BODIES = [
    '{"attempt":0,"index":7,"tag":"x","index":8}', '{"attempt":0,"index":7.0,"tag":"x"}',
    '{"attempt":0,"index":7,"tag":"x","z":NaN}', ' {"next": -1} ', '{"next":1e2}',
    '{"next":-0}', '{"next":01}', '{"next":1}\n', '\ufeff{"next":1}', '{"next":"1"}',
    '{"sha256":"' + "A" * 64 + '","index":1,"attempt":1}', '{"next":2147483648}',
    '{"next":1,"next":true}', '{"attempt":0,"index":7,"tag":"\\u00e9"}', '{"reason":"\\ud800"}',
]  # fmt: skip
_json_scalar = st.one_of(
    st.integers(-(2**70), 2**70), st.booleans(), st.none(), st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
)  # fmt: skip
_field_names = st.sampled_from(
    ["index", "attempt", "tag", "cursor", "nonce", "next", "sha256", "size", "reason", "code",
     "state", "extra"]
)  # fmt: skip
_bodies = st.one_of(
    st.dictionaries(_field_names, _json_scalar, max_size=6).map(
        lambda d: json.dumps(d, sort_keys=bool(len(d) % 2), ensure_ascii=len(d) % 3 == 0)
    ),
    st.text(max_size=40),  # arbitrary text: mostly not JSON
    st.sampled_from(_TRICKY_BODIES),
)


@st.composite
def _datagrams(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["body", "valid", "mutated", "raw"]))
    seq = draw(st.integers(1, 2**64 - 1))
    if kind == "body":
        mtype = draw(st.integers(1, 10))
        flags = 0 if m.MESSAGE_TYPES[mtype].SENDER == m.ROLE_DESKTOP else 1
        body = draw(_bodies).encode("utf-8", "surrogatepass")[: m.MAX_BODY]
        return _seal_raw(mtype, flags, body, seq)
    if kind == "raw":
        return draw(st.binary(max_size=80))
    i = draw(st.integers(0, m.MAX_INDEX))
    msg = draw(st.sampled_from([
        m.Capture(i, i % 5, "t"), m.HelloAck(i, -1), m.Stored(i, 0, "0" * 64), m.Resync(i),
        m.Hello(-1, i), m.CaptureAck(i, 0, 2), m.Error(1, i, 0, -1), m.ResyncAck(i),
        m.PhotoReady(i, 1, "f" * 64, max(1, i)), m.CameraFailedMsg(i, 0, "é\n\u2603"),
    ]))  # fmt: skip
    data = m.encode(msg, KEY, SESSION, seq)
    if kind == "mutated":
        pos = draw(st.integers(0, len(data) - 1))
        data = data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
    return data


@needs_jdk
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    grams=st.lists(_datagrams(), min_size=150, max_size=250),
    role=st.sampled_from(["phone", "desktop"]),
)
def test_companion_java_and_python_receive_checks_agree(
    jvm_build: JvmBuild, grams: list[bytes], role: str
) -> None:
    own = m.ROLE_PHONE if role == "phone" else m.ROLE_DESKTOP
    java = _java_verdicts(jvm_build, grams, role)
    python = [_py_verdict(g, own) for g in grams]
    assert len(java) == len(grams)
    for g, j, p in zip(grams, java, python, strict=True):
        assert j == p, f"datagram {g.hex()}: Java says {j!r}, Python says {p!r}"


# ------------------------------------------------------------------------------- 3. real phone
def _frame(index: int) -> np.ndarray:
    """A smooth screen frame (JPEG-friendly) whose content moves with the index. (H, W, 3) uint8."""
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 2, yy * 2, np.full_like(xx, 60)], axis=-1).astype(np.uint8)
    x0 = (index * 23) % (w - 32)
    y0 = (index * 17) % (h - 32)
    img[y0 : y0 + 32, x0 : x0 + 32] = (255, 255, 255) if index % 2 else (0, 0, 0)
    return np.ascontiguousarray(img)


def _psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


class _Rig:
    """The desktop endpoint behind a netem proxy, plus the HeadlessPhone process(es)."""

    def __init__(self, tmp: Path, classpath: str, faults: str, seed: int) -> None:
        self.tmp, self.classpath, self.seed = tmp, classpath, seed
        self.faults = parse_faults(faults)
        self.showing = 0
        self.phone_store = tmp / "phone"
        self.pair_file = tmp / "pairing.txt"
        self.procs: list[asyncio.subprocess.Process] = []

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[DesktopEndpoint]:
        session = random.Random(self.seed).randbytes(8)
        key = random.Random(self.seed + 1).randbytes(32)
        ep = DesktopEndpoint(key, session, "127.0.0.1", 0, 0, self.tmp / "desktop",
                             lambda age_ms: _frame(self.showing))  # fmt: skip
        async with ep:
            target = ("127.0.0.1", ep.udp_port)
            async with NetemProxy(("127.0.0.1", 0), target, self.faults, self.seed) as proxy:
                pairing = ep.pairing().with_udp("127.0.0.1", proxy.port)
                self.pair_file.write_text(pairing.to_uri() + "\n", encoding="utf-8")
                try:
                    yield ep
                finally:
                    for proc in self.procs:
                        if proc.returncode is None:
                            proc.kill()
                            await proc.wait()

    async def start_phone(self, idle_exit_s: float = 3.0) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            "java", "-cp", self.classpath, "rig.companion.HeadlessPhone", "--pair",
            str(self.pair_file), "--store", str(self.phone_store), "--idle-exit-s", str(idle_exit_s),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    async def capture(self, ep: DesktopEndpoint, index: int) -> PhotoRecord:
        self.showing = index
        return await ep.capture(index, 1, f"jvm-{index:06d}", 40.0)


def _check_exactly_one_verified_photo_each(tmp: Path, records: list[PhotoRecord], n: int) -> None:
    photos = sorted((tmp / "desktop/photos").iterdir())
    per_index = Counter(int(p.name.split("_")[0]) for p in photos)
    assert per_index == Counter(range(n)), f"stored photos per index: {per_index}"
    shots = read_shots(tmp / "phone")
    shot_count = Counter(i for i, _, _ in shots)
    assert shot_count == Counter(range(n)), f"phone shots per index: {shot_count}"
    shot_sha = {i: sha for i, _, sha in shots}
    for i, rec in enumerate(records):
        assert rec.index == i
        data = Path(rec.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec.sha256 == shot_sha[i]
        photo = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert photo is not None and photo.shape == _frame(i).shape
        # The photo shows the frame that was on screen for this index, not its neighbour.
        assert _psnr_db(photo, _frame(i)) > 30.0
        assert _psnr_db(photo, _frame(i)) > _psnr_db(photo, _frame(i + 1)) + 10.0


async def _finish_phone(proc: asyncio.subprocess.Process) -> dict[str, object]:
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return summary


@needs_jdk
@pytest.mark.slow
def test_companion_headless_phone_over_lossy_loopback(jvm_build: JvmBuild, tmp_path: Path) -> None:
    """20 captures through loss, duplication, reordering and delay: one verified photo each."""
    rig = _Rig(
        tmp_path, _classes(jvm_build), "loss=0.2,dup=0.1,reorder=0.1,delay_ms=5,jitter_ms=5", 11
    )
    n = 20

    async def scenario() -> tuple[list[PhotoRecord], dict[str, object], dict[str, object]]:
        async with rig.running() as ep:
            proc = await rig.start_phone()
            records = [await rig.capture(ep, i) for i in range(n)]
            summary = await _finish_phone(proc)
            return records, summary, ep.stats()

    records, summary, stats = asyncio.run(asyncio.wait_for(scenario(), 150))
    _check_exactly_one_verified_photo_each(tmp_path, records, n)
    assert summary["shots"] == n and summary["photos_stored"] == n and summary["cursor"] == n
    assert stats["rejected_uploads"] == {}


@needs_jdk
@pytest.mark.slow
def test_companion_headless_phone_survives_sigkill(jvm_build: JvmBuild, tmp_path: Path) -> None:
    """The phone is killed (SIGKILL) right after saving a photo and restarted from its store:
    nothing is shot twice, nothing is skipped, the desktop still gets one photo per item."""
    rig = _Rig(tmp_path, _classes(jvm_build), "loss=0.1,dup=0.05,delay_ms=2", 12)
    n, kill_after = 12, 5

    async def wait_for_shot(index: int) -> None:
        while index not in {i for i, _, _ in read_shots(rig.phone_store)}:
            await asyncio.sleep(0.005)  # waiting for an event (the shot log), bounded below

    async def scenario() -> list[PhotoRecord]:
        async with rig.running() as ep:
            first = await rig.start_phone()
            records = [await rig.capture(ep, i) for i in range(kill_after)]
            pending = asyncio.ensure_future(rig.capture(ep, kill_after))
            await asyncio.wait_for(wait_for_shot(kill_after), 30)
            first.kill()  # photo saved and recorded; its upload may or may not have happened
            await first.wait()
            second = await rig.start_phone()
            records.append(await pending)
            records += [await rig.capture(ep, i) for i in range(kill_after + 1, n)]
            await _finish_phone(second)
            return records

    records = asyncio.run(asyncio.wait_for(scenario(), 150))
    _check_exactly_one_verified_photo_each(tmp_path, records, n)


# ------------------------------------------------------------------------------- 4. rig session
@needs_jdk
@pytest.mark.slow
def test_companion_headless_phone_serves_a_rig_session(jvm_build: JvmBuild, tmp_path: Path) -> None:
    """`rig session start --camera phone --headless --pairing-file F` with the Java phone behind
    the netem proxy: the session engine verifies every photo, once, and reconciles clean."""
    from rig.library.importer import import_paths
    from rig.library.samples import SampleSpec, write_samples
    from rig.project import init_project
    from rig.protocol.pairing import parse_pairing

    project = init_project(tmp_path / "project")
    labels = write_samples(
        tmp_path / "in", n_images=10, seed=3, spec=SampleSpec(rows=240, columns=200)
    )
    import_paths(project, [tmp_path / "in"], labels, recursive=True)
    plan = tmp_path / "plan.toml"
    plan.write_text('repeats = 2\nsettle_ms = 5\ncamera = "phone"\ncapture_timeout_s = 30.0\n')
    desk_pairing, phone_pairing = tmp_path / "pairing.txt", tmp_path / "phone-pairing.txt"
    env = {**os.environ, "RIG_PROJECT": str(project.root)}
    rig = [sys.executable, "-m", "rig"]
    faults = parse_faults("loss=0.1,dup=0.05,reorder=0.05,delay_ms=2,jitter_ms=2")

    async def scenario() -> tuple[int, str, str, dict[str, object]]:
        desk = await asyncio.create_subprocess_exec(
            *rig, "session", "start", "--plan", str(plan), "--camera", "phone", "--headless",
            "--pairing-file", str(desk_pairing), "--json", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        phone = None
        try:
            while not desk_pairing.exists() or not desk_pairing.read_text().strip():
                assert desk.returncode is None, "rig session start ended before pairing"
                await asyncio.sleep(
                    0.05
                )  # waiting for the pairing file (event), bounded by wait_for
            pairing = parse_pairing(desk_pairing.read_text())
            target = (pairing.host, pairing.udp_port)
            async with NetemProxy(("127.0.0.1", 0), target, faults, 5) as proxy:
                phone_pairing.write_text(pairing.with_udp("127.0.0.1", proxy.port).to_uri())
                phone = await asyncio.create_subprocess_exec(
                    "java", "-cp", _classes(jvm_build), "rig.companion.HeadlessPhone", "--pair",
                    str(phone_pairing), "--store", str(tmp_path / "phone"), "--idle-exit-s", "3",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                out, err = await desk.communicate()
                summary = await _finish_phone(phone)
            return desk.returncode or 0, out.decode(), err.decode()[-3000:], summary
        finally:
            for proc in (desk, phone):
                if proc is not None and proc.returncode is None:
                    proc.kill()
                    await proc.wait()

    code, out, err, phone_summary = asyncio.run(asyncio.wait_for(scenario(), 240))
    assert code == 0, out + err
    result = json.loads(out)
    session_id = result["id"]
    shown = subprocess.run([*rig, "session", "show", str(session_id), "--json"], env=env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    summary = json.loads(shown.stdout)
    assert summary["items"] == 20 and summary["verified"] == 20, summary
    assert summary["skipped"] == 0 and summary["duplicates"] == 0, summary
    assert summary["reconciliation"]["clean"], summary["reconciliation"]
    shots = Counter(i for i, _, _ in read_shots(tmp_path / "phone"))
    assert max(shots.values()) == 1 and phone_summary["shots"] == sum(shots.values())


# ------------------------------------------------------------------------------- 5. conformance
# The scenarios the JVM phone runs in CI: those whose behaviour no other test here exercises
# over sockets. Loss, duplication and reordering are the lossy-loopback test's faults, a
# phone restart is the SIGKILL test; rig's phone-sim runs all twelve (tests/protocol).
# RIG_FULL_CONFORMANCE=1 runs all twelve for the JVM phone too.
JVM_SCENARIOS = ["pairing-and-version", "desktop-restart", "forged-datagrams",
                 "replayed-datagrams", "upload-resume", "upload-conflict", "resync", "bye"]  # fmt: skip


@needs_jdk
@pytest.mark.slow
def test_companion_headless_phone_passes_protocol_conformance(jvm_build: JvmBuild) -> None:
    """`rig protocol conformance --phone "java … HeadlessPhone …"`: v1.1 scenarios pass."""
    from rig.protocol.conformance import SCENARIOS, PhoneCommand, run_phone_suite

    names = list(SCENARIOS) if os.environ.get("RIG_FULL_CONFORMANCE") == "1" else JVM_SCENARIOS
    assert set(JVM_SCENARIOS) <= set(SCENARIOS)
    cmd = (f"java -cp {_classes(jvm_build)} rig.companion.HeadlessPhone --pair {{pairing}} "
           "--store {store} --idle-exit-s 30")  # fmt: skip
    results = asyncio.run(run_phone_suite(PhoneCommand(cmd), names))
    assert [r.name for r in results] == names
    failed = {r.name: r.detail for r in results if not r.passed}
    assert not failed, failed
