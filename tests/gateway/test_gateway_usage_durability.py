"""Usage is never lost: a write-ahead outbox, retries, replay without doubles, kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from inferstack.gateway.db import Database
from inferstack.gateway.outbox import Outbox
from inferstack.gateway.usage import Usage, UsageEntry, UsageRecorder
from support.servers import free_port
from support.services import wait_until


async def test_a_failed_database_write_is_retried_not_dropped(gateway, monkeypatch) -> None:
    recorder = gateway.gw.recorder
    real_write, failures = recorder._write, []

    async def flaky(batch):
        if len(failures) < 3:
            failures.append(len(batch))
            raise OperationalError("INSERT", {}, Exception("database is down"))
        return await real_write(batch)

    monkeypatch.setattr(recorder, "_write", flaky)
    for _ in range(5):
        assert (await gateway.chat(gateway.master)).status_code == 200
    await recorder.flush()
    assert len(failures) == 3  # three failed attempts, then it landed
    logs = await gateway.gw.reports.logs()
    assert len(logs) == 5 and len({log["entry_id"] for log in logs}) == 5
    assert (await gateway.client.get("/ready")).json()["usage_recorder"] == "ok"


async def test_ready_goes_red_while_usage_cannot_be_written_or_the_recorder_died(
    gateway, monkeypatch
) -> None:
    recorder = gateway.gw.recorder

    async def down(batch):
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(recorder, "_write", down)
    assert (await gateway.chat(gateway.master)).status_code == 200  # usage fails open
    wait = gateway.client.get("/ready")
    for _ in range(100):
        ready = await wait
        if ready.json()["usage_recorder"] == "failing":
            break
        wait = gateway.client.get("/ready")
    assert ready.status_code == 503 and ready.json()["usage_recorder"] == "failing"

    async def bug(batch):
        raise RuntimeError("a bug in the recorder")

    monkeypatch.setattr(recorder, "_write", bug)
    recorder._task.cancel()  # restart the loop with the bug in place
    recorder.start()
    await gateway.chat(gateway.master)
    for _ in range(100):
        ready = await gateway.client.get("/ready")
        if ready.json()["usage_recorder"] == "dead":
            break
    assert ready.status_code == 503 and ready.json()["usage_recorder"] == "dead"


def _entry(i: int) -> UsageEntry:
    return UsageEntry(
        request_id=f"r{i}",
        key_id=None,
        endpoint="/chat/completions",
        model_group="chat",
        deployment="a",
        usage=Usage(3, 4),
        latency_s=0.01,
        ttft_s=None,
        cost=0.0,
        status_code=200,
    )


async def test_the_outbox_is_replayed_after_a_crash_and_never_doubles(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    await db.migrate()
    first = UsageRecorder(db, outbox=Outbox(tmp_path / "outbox"))
    first.start()
    await first.flush()
    for i in range(3):
        first.record(_entry(i))
    await first.flush()  # these three are written...
    first._task.cancel()  # ...then the process "dies" before deleting its segment
    for i in range(3, 6):
        first.record(_entry(i))  # and these never reached the database
    # the dead process's flocks go with it; here: release them without deleting anything
    for segment in first._outbox._segments.values():
        os.close(segment.fd)
    first._outbox._segments.clear()

    second = UsageRecorder(db, outbox=Outbox(tmp_path / "outbox"))
    second.start()  # claims the orphaned segment and replays all six
    await second.flush()
    await second.stop()
    from sqlalchemy import select

    from inferstack.gateway.db import SpendLog

    async with db.session() as session:
        rows = (await session.scalars(select(SpendLog.request_id))).all()
    assert sorted(rows) == [f"r{i}" for i in range(6)]  # none missing, none doubled
    assert list((tmp_path / "outbox").iterdir()) == []  # everything written: nothing left
    await db.close()


async def test_entries_arriving_within_the_linger_share_one_transaction(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    await db.migrate()
    batches: dict[float, list[int]] = {}
    for linger in (0.0, 0.2):
        recorder = UsageRecorder(db, outbox=Outbox(tmp_path / f"outbox-{linger}"), linger_s=linger)
        write = recorder._write
        sizes: list[int] = []

        async def counted(batch: list[UsageEntry], write=write, sizes=sizes) -> dict[str, float]:
            sizes.append(len(batch))
            return await write(batch)

        recorder._write = counted  # type: ignore[method-assign]
        recorder.start()
        base = 100 if linger else 0
        recorder.record(_entry(base))
        await asyncio.sleep(0.05)  # the recorder has taken the first entry
        for i in range(1, 5):
            recorder.record(_entry(base + i))
        await recorder.flush()
        await recorder.stop()
        batches[linger] = sizes
    assert batches == {0.0: [1, 4], 0.2: [5]}
    await db.close()


def _gateway(config: Path, state: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "inferstack.cli.main",
        "gateway",
        "--config",
        str(config),
        "--port",
        str(port),
        "--state-dir",
        str(state),
    ]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_9_mid_load_loses_and_doubles_no_usage(tmp_path: Path) -> None:
    """Load through a real gateway process, SIGKILL it, restart: every 2xx has one row."""
    up_port, port = free_port(), free_port()
    fake = Path(__file__).with_name("fake_openai_server.py")
    procs = [
        subprocess.Popen(
            [sys.executable, str(fake), str(up_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    config = tmp_path / "gateway.yaml"
    deployment = {"api_base": f"http://127.0.0.1:{up_port}/v1", "model": "fake"}
    config.write_text(yaml.safe_dump({"model_groups": {"chat": {"deployments": [deployment]}}}))
    state, log, url = tmp_path / "state", tmp_path / "gateway.log", f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{up_port}/v1/models"), 30, "fake upstream")
        procs.append(_gateway(config, state, port, log))
        wait_until(lambda: _ready(f"{url}/ready"), 60, "gateway")
        master = (state / "master_key").read_text().strip()
        seen: list[str] = []
        stop = threading.Event()

        def load() -> None:
            body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
            with httpx.Client(base_url=url, timeout=10) as client:
                while not stop.is_set():
                    rid = uuid.uuid4().hex
                    headers = {"Authorization": f"Bearer {master}", "x-request-id": rid}
                    try:
                        r = client.post("/v1/chat/completions", json=body, headers=headers)
                    except httpx.HTTPError:
                        return  # the gateway is gone
                    if 200 <= r.status_code < 300:
                        seen.append(rid)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: len(seen) >= 200, 60, "200 answered requests")
        procs[1].send_signal(signal.SIGKILL)  # mid-run: requests and usage in flight
        procs[1].wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)

        procs[1] = _gateway(config, state, port, log)
        wait_until(lambda: _ready(f"{url}/ready"), 60, "restarted gateway")
        admin = {"Authorization": f"Bearer {master}"}
        logs = httpx.get(f"{url}/spend/logs?limit=10000", headers=admin, timeout=30).json()
        rows = [entry["request_id"] for entry in logs if entry["status_code"] == 200]
        missing = set(seen) - set(rows)
        doubled = len(rows) - len(set(rows))
        print(f"2xx seen: {len(seen)}, usage rows: {len(rows)}, missing: {len(missing)}")
        assert not missing and doubled == 0

        # SIGTERM drains: the process shuts down gracefully (uvicorn re-raises the signal
        # once it is done) and leaves nothing in the outbox
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(timeout=60) in (0, -signal.SIGTERM)
        assert list((state / "usage-outbox").iterdir()) == []
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class _Link:
    """A TCP forwarder to the database that the test can cut and restore (a network outage)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()  # every open database connection breaks

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


async def test_usage_survives_the_database_going_away(
    make_gateway, postgres_server, upstream
) -> None:
    """PostgreSQL unreachable mid-traffic: answers keep coming for known keys, /ready is red,
    unknown keys get 503 + Retry-After, and when it is back every 2xx has exactly one row."""

    url = make_url(postgres_server.url)
    link = _Link(int(url.port))
    await link.up()
    database = url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
    async with make_gateway(database_url=database, key_cache_ttl_s=3600) as gw:
        key = await gw.new_key()
        info = await gw.client.get("/key/info", headers=gw.auth(key))
        key_id = info.json()["key_id"]
        seen = [r.status_code for r in [await gw.chat(key) for _ in range(5)]]
        await link.down()
        for _ in range(10):
            seen.append((await gw.chat(key)).status_code)  # the key is cached: still served
        unknown = await gw.chat("sk-never-seen")
        assert unknown.status_code == 503 and "retry-after" in unknown.headers
        for _ in range(200):
            if gw.gw.recorder.failing:
                break
            await asyncio.sleep(0.05)
        ready = await gw.client.get("/ready")
        assert ready.status_code == 503 and ready.json()["usage_recorder"] == "failing"
        await link.up()
        await asyncio.wait_for(gw.gw.recorder.flush(), 60)
        logs = await gw.gw.reports.logs(key_id=key_id, limit=1000)
        assert seen == [200] * 15
        ok = [log for log in logs if log["status_code"] == 200]
        assert len(ok) == 15 and len({log["entry_id"] for log in ok}) == 15
        assert (await gw.client.get("/ready")).json()["usage_recorder"] == "ok"
