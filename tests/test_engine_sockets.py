"""payments/engine_sockets.py: the shared ping task pings, and python-engineio keeps its shape."""

import inspect
import json

import engineio
import engineio.server
import engineio.socket
from werkzeug.test import EnvironBuilder

from payments import engine_sockets


def test_engineio_still_builds_its_connections_by_name_and_schedules_pings_so():
    # What install() relies on: the server looks the class up on the module at each connect,
    # asks the new connection for its first ping, and asks again on each pong.
    assert engineio.server.socket is engineio.socket
    connect = inspect.getsource(engineio.Server._handle_connect)
    assert "socket.Socket(self, sid)" in connect and "s.schedule_ping()" in connect
    assert "self.schedule_ping()" in inspect.getsource(engineio.socket.Socket.receive)
    # send_ping() is the base class's _send_ping() without its sleep.
    base_ping = inspect.getsource(engine_sockets._BaseSocket._send_ping)
    assert "self.server.sleep(self.server.ping_interval)" in base_ping
    assert "if not self.closing and not self.closed:" in base_ping
    assert "self.last_ping = time.time()" in base_ping
    assert "self.send(packet.Packet(packet.PING))" in base_ping


def _call(server: engineio.Server, method: str, query: str, data: str | None = None):
    builder = EnvironBuilder(path="/engine.io/", method=method, query_string=query, data=data)
    answer: dict = {}

    def start_response(status, headers):
        answer["status"] = status

    body = b"".join(server.handle_request(builder.get_environ(), start_response))
    return answer["status"], body.decode()


def test_a_connection_is_pinged_by_the_shared_task_after_each_pong():
    engine_sockets.install()
    server = engineio.Server(async_mode="threading", ping_interval=0.05, ping_timeout=5)
    status, opening = _call(server, "GET", "EIO=4&transport=polling")
    assert status == "200 OK" and opening.startswith("0")
    sid = json.loads(opening[1:])["sid"]
    assert isinstance(server.sockets[sid], engine_sockets.Socket)
    query = f"EIO=4&transport=polling&sid={sid}"
    for _ in range(2):
        assert _call(server, "GET", query) == ("200 OK", "2")  # a ping, ping_interval later
        assert _call(server, "POST", query, data="3")[0] == "200 OK"  # the pong
    assert _call(server, "POST", query, data="1")[0] == "200 OK"  # the page leaves
    assert sid not in server.sockets or server.sockets[sid].closed
