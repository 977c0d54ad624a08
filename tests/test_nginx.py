"""deploy/nginx.conf for real: nginx in front of two processes sharing Redis and one database."""

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.backends import redis_url  # noqa: F401  (fixture)
from tests.live import ROOT, free_port
from tests.multiprocess import Page, assert_hears, create, notify, servers
from tests.requires import service

DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def nginx_conf(workdir: Path, port: int, upstreams: list[int]) -> Path:
    """Write a main config that wraps deploy/nginx.conf, with test ports and private paths."""
    site = DEPLOY_CONF.read_text()
    for placeholder, upstream in zip(("127.0.0.1:5001", "127.0.0.1:5002"), upstreams,
                                     strict=True):
        assert placeholder in site
        site = site.replace(placeholder, f"127.0.0.1:{upstream}")
    assert "listen 80;" in site
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temp = "\n".join(f"    {kind}_temp_path {workdir / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach tmp_path
    conf = workdir / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {workdir / 'nginx.pid'};
error_log {workdir / 'error.log'} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    # Test only: tell which process answered.
    add_header X-Upstream $upstream_addr always;
{site}
}}
""")
    return conf


@pytest.fixture
def nginx_pair(tmp_path, redis_url):  # noqa: F811
    """Return (nginx URL, servers) with nginx started from deploy/nginx.conf."""
    service(NGINX is not None, "nginx is not installed (Debian: apt-get install nginx)")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite'}",
           "SOCKETIO_MESSAGE_QUEUE": redis_url,
           "TRUSTED_PROXIES": "127.0.0.1"}  # as README says: nginx's address
    with servers(tmp_path, 2, env) as pair:
        port = free_port()
        conf = nginx_conf(tmp_path, port, [server.port for server in pair])
        log = open(tmp_path / "nginx.out", "wb")
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf),
                                  "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
                                 stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(url + "/health", timeout=5).close()
                    break
                except OSError:
                    if nginx.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("nginx did not start: "
                                           + (tmp_path / "nginx.out").read_text()) from None
                    time.sleep(0.2)
            yield url, pair
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
            log.close()


def backend_behind(url: str, pair):
    """Return the server that nginx sends this client to (ip_hash: the same every time)."""
    with urllib.request.urlopen(url + "/health", timeout=10) as response:
        upstream = response.headers["X-Upstream"]
    [server] = [s for s in pair if upstream == f"127.0.0.1:{s.port}"]
    return server


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_page_through_nginx_hears_a_webhook_sent_to_the_other_process(nginx_pair, transport):
    url, pair = nginx_pair
    behind = backend_behind(url, pair)
    [other] = [s for s in pair if s is not behind]
    payment = create(url)
    page = Page().connect(url, payment["id"], transports=[transport])
    try:
        assert page.client.transport() == transport
        assert page.next_event()["status"] == "pending"
        assert backend_behind(url, pair) is behind  # sticky

        status, _ = notify(other.url, payment)

        assert status == 200
        assert_hears(page, payment, "paid", f"through nginx ({transport})")
    finally:
        page.close()


#: What deploy/nginx.conf allows one client address: open requests (limit_conn).
PER_ADDRESS = 100


def open_stream(port: int, payment_id: str, source: str) -> tuple[socket.socket, bytes]:
    """Open an event stream through nginx from ``source``; return it and its first bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0))
    sock.sendall(f"GET /payments/pix/{payment_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 .encode())
    return sock, sock.recv(65536)


def test_one_address_past_its_connections_is_429_and_the_others_are_served(nginx_pair, tmp_path):
    url, pair = nginx_pair
    port = int(url.rsplit(":", 1)[1])
    payment = create(url)
    streams = []
    try:
        # 127.0.0.2 holds as many event streams as nginx lets one address hold.
        for _ in range(PER_ADDRESS):
            sock, first = open_stream(port, payment["id"], "127.0.0.2")
            streams.append(sock)
            assert first.startswith(b"HTTP/1.1 200"), first[:200]
        sock, first = open_stream(port, payment["id"], "127.0.0.2")
        streams.append(sock)
        assert first.startswith(b"HTTP/1.1 429"), first[:200]
        # Everyone else is served, the bank's webhook included.
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            assert response.status == 200
        status, _ = notify(url, payment)
        assert status == 200
    finally:
        for sock in streams:
            sock.close()
    assert 'limiting connections by zone "pix_per_address"' in (
        tmp_path / "error.log").read_text()
