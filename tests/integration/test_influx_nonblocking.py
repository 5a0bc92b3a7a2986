"""Trading never waits on InfluxDB: the Monitor calls only enqueue, whatever the network does."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from adaptive_agent.monitoring.influx import InfluxSink, iter_spooled_lines
from adaptive_agent.monitoring.monitor import Monitor
from tests.support.influxd_fixture import BAR_MS, T0_MS, free_port, make_bar, make_rebalance

N = 5_000


class SilentServer:
    """Accepts TCP connections on 127.0.0.1, reads the request and never answers it.

    ``got_request`` is set once a full request head arrived (the client is then waiting for a
    reply that will not come until ``release()``, which closes the connection unanswered).
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.02)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.got_request = threading.Event()
        self._release = threading.Event()
        self.requests: list[bytes] = []
        self.answered = 0  # never incremented: this server does not answer
        self._thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._release.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.02)
                head = b""
                while b"\r\n\r\n" not in head and not self._release.is_set():
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    head += chunk
                self.requests.append(head)
                self.got_request.set()
                self._release.wait()
        self._listener.close()

    def release(self) -> None:
        self._release.set()
        self._thread.join(5.0)


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.release()


def test_calls_return_while_the_writer_is_stuck_in_a_request(
    silent: SilentServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    # a read timeout far longer than the test: the writer can only leave the request when the
    # server closes the connection
    sink = InfluxSink(
        silent.url,
        "stuck",
        spool_dir=spool,
        batch_size=100,
        flush_interval_s=0.01,
        timeout_s=120.0,
        retry_initial_s=0.05,
    )
    try:
        sink.on_bar(make_bar(0))
        assert silent.got_request.wait(10.0)
        # the writer thread is now inside an HTTP request that has no answer
        assert sink.stats().queued == 0 and sink.stats().enqueued == 1
        results = [sink.on_bar(make_bar(i)) for i in range(1, N + 1)]
        for i in range(0, 50):
            sink.on_rebalance(make_rebalance(i), [])
            sink.on_alert("margin", "used margin above 70%", T0_MS + i * BAR_MS)
        # all returned, none raised, and the writer is provably still in that one request:
        # nothing answered it, nothing was taken from the queue, nothing written or spooled
        assert results == [None] * N
        stats = sink.stats()
        assert silent.answered == 0 and len(silent.requests) == 1
        assert stats.queued == N + 100 and stats.enqueued == N + 101
        assert (stats.points_written, stats.points_spooled, stats.write_failures) == (0, 0, 0)
        assert stats.dropped == 0
        assert sink._thread.is_alive()
        assert silent.requests[0].startswith(b"POST /query")  # first contact: CREATE DATABASE
    finally:
        silent.release()  # closes the connection unanswered: the writer sees an error, spools
        sink.close(1.0)
    stats = sink.stats()
    assert stats.points_written == 0 and stats.write_failures >= 1
    assert stats.points_spooled == N + 101 == stats.spool_pending
    spooled = list(iter_spooled_lines(spool))
    bars = [int(line.rsplit(" ", 1)[1]) for line in spooled if line.startswith("bar ")]
    assert bars == [T0_MS + i * BAR_MS for i in range(N + 1)]  # in order, none missing


def test_queue_is_bounded_while_the_writer_is_stuck(silent: SilentServer, tmp_path: Path) -> None:
    sink = InfluxSink(
        silent.url,
        "bounded",
        spool_dir=tmp_path / "spool",
        max_queue=100,
        flush_interval_s=0.01,
        timeout_s=120.0,
    )
    try:
        sink.on_bar(make_bar(0))
        assert silent.got_request.wait(10.0)
        for i in range(1, 1001):
            sink.on_bar(make_bar(i))
        stats = sink.stats()
        assert (stats.queued, stats.dropped, stats.enqueued) == (100, 900, 101)
        assert silent.answered == 0 and sink._thread.is_alive()
    finally:
        silent.release()
        sink.close(1.0)
    assert sink.stats().points_spooled == 101  # the oldest ones were kept, the newest dropped
    bars = [int(line.rsplit(" ", 1)[1]) for line in iter_spooled_lines(tmp_path / "spool")]
    assert bars == [T0_MS + i * BAR_MS for i in range(101)]


def test_nothing_listening(tmp_path: Path) -> None:
    """Connection refused: thousands of calls return at once, everything ends up spooled."""
    spool = tmp_path / "spool"
    sink = InfluxSink(
        f"http://127.0.0.1:{free_port()}",
        "refused",
        spool_dir=spool,
        batch_size=200,
        flush_interval_s=0.01,
        retry_initial_s=0.01,
        retry_max_s=0.05,
        timeout_s=2.0,
    )
    try:
        results = [sink.on_bar(make_bar(i)) for i in range(N)]
        assert results == [None] * N
        assert not sink.flush(5.0, retry=False)
    finally:
        sink.close(0.5)
    stats = sink.stats()
    assert stats.enqueued == N and stats.dropped == 0 and stats.points_written == 0
    assert stats.points_spooled == N == stats.spool_pending and stats.write_failures >= 1
    assert not stats.connected
    times = [int(line.rsplit(" ", 1)[1]) for line in iter_spooled_lines(spool)]
    assert times == [T0_MS + i * BAR_MS for i in range(N)]


def test_calls_after_close_are_ignored(tmp_path: Path) -> None:
    sink: Monitor = InfluxSink(
        f"http://127.0.0.1:{free_port()}", "closed", spool_dir=tmp_path / "spool"
    )
    assert isinstance(sink, InfluxSink)
    sink.close()
    sink.close()  # twice is fine
    sink.on_bar(make_bar(0))
    sink.on_rebalance(make_rebalance(0), [])
    sink.on_alert("x", "y", T0_MS)
    assert sink.stats().enqueued == 0


class _Fixed(BaseHTTPRequestHandler):
    status = 503

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"error":"not today"}'
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.paths.append(self.path.split("?")[0])  # type: ignore[attr-defined]

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [500, 503, 401, 403, 404, 400])
def test_server_side_errors_keep_the_points(status: int, tmp_path: Path) -> None:
    """5xx, auth and not-found answers, and a 400 to CREATE DATABASE: spooled, never rejected."""
    server = HTTPServer(("127.0.0.1", 0), _Fixed)
    server.status = status  # type: ignore[attr-defined]
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    spool = tmp_path / "spool"
    try:
        sink = InfluxSink(
            f"http://127.0.0.1:{server.server_port}",
            "errors",
            spool_dir=spool,
            flush_interval_s=0.01,
            retry_initial_s=0.01,
            retry_max_s=0.02,
            timeout_s=2.0,
        )
        try:
            for i in range(300):
                sink.on_bar(make_bar(i))
            assert not sink.flush(5.0, retry=False)
        finally:
            sink.close(0.2)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)
    stats = sink.stats()
    assert stats.points_rejected == 0 and stats.points_written == 0
    assert stats.points_spooled == 300 == stats.spool_pending
    assert len(list(iter_spooled_lines(spool))) == 300
    assert not (spool / "rejected").exists()
    paths = server.paths  # type: ignore[attr-defined]
    assert paths[0] == "/query"  # CREATE DATABASE first
    if status in (401, 403):  # no admin right: it goes on to write, and keeps the points
        assert "/write" in paths


def test_one_sink_per_spool_dir(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    first = InfluxSink(url, "lock", spool_dir=tmp_path / "spool")
    try:
        with pytest.raises(ValueError, match="used by another InfluxSink"):
            InfluxSink(url, "lock", spool_dir=tmp_path / "spool")
    finally:
        first.close(0.2)
    second = InfluxSink(url, "lock", spool_dir=tmp_path / "spool")  # released by close()
    second.close(0.2)


def test_missing_influxd_fails_with_the_install_hint(tmp_path: Path) -> None:
    from tests.support.influxd_fixture import influxd_binary

    with pytest.raises(pytest.fail.Exception, match="apt-get install -y influxdb"):
        influxd_binary(search_path=str(tmp_path))
