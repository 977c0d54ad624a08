"""deploy/nginx-psp-mtls.conf for real: only a provider with a client certificate reaches
the callback route; the shop's pages need none."""

import datetime
import http.server
import ipaddress
import subprocess
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.live import ROOT, free_port
from tests.requires import service
from tests.test_nginx import NGINX

CONF = ROOT / "deploy" / "nginx-psp-mtls.conf"
CALLBACK = "/payments/pix/confirmation/pix"


def _certificate(name: str, issuer=None, ca: bool = False, server: bool = False):
    """Return (certificate, key): self-signed when ``issuer`` is None, else signed by it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0].subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    certificate = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return certificate, key


def _write(path, certificate, key=None):
    path.with_suffix(".crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return path.with_suffix(".crt"), path.with_suffix(".key")


class Backend:
    """The app's stand-in: answers 200 with the path it was asked for."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - the http.server API

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def tls(tmp_path):
    """Write the CAs and certificates; return their paths."""
    ca = _certificate("Provider client CA", ca=True)
    other_ca = _certificate("Someone else's CA", ca=True)
    server_ca = _certificate("Shop server CA", ca=True)
    paths = {
        "client_ca": _write(tmp_path / "psp-client-ca", ca[0])[0],
        "server_ca": _write(tmp_path / "server-ca", server_ca[0])[0],
        "server": _write(tmp_path / "server", *_certificate("127.0.0.1", server_ca, server=True)),
        "provider": _write(tmp_path / "provider", *_certificate("psp", ca)),
        "stranger": _write(tmp_path / "stranger", *_certificate("psp", other_ca)),
    }
    return paths


@pytest.fixture
def nginx(tmp_path, tls):
    """Start nginx with deploy/nginx-psp-mtls.conf; return (shop URL, callbacks-only URL)."""
    service(NGINX is not None, "nginx is not installed (Debian: apt-get install nginx)")
    backend = Backend()
    ports = [free_port(), free_port()]
    site = CONF.read_text()
    assert site.count("listen 443 ssl;") == 2
    for port in ports:
        site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;", 1)
    server_crt, server_key = tls["server"]
    for name in ("shop.example", "pix-callbacks.shop.example"):
        site = site.replace(f"/etc/nginx/tls/{name}.crt", str(server_crt))
        site = site.replace(f"/etc/nginx/tls/{name}.key", str(server_key))
    site = site.replace("/etc/nginx/tls/psp-client-ca.pem", str(tls["client_ca"]))
    assert "/etc/nginx" not in site
    temp = "\n".join(f"    {kind}_temp_path {tmp_path / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""user root;
worker_processes 1;
pid {tmp_path / 'nginx.pid'};
error_log {tmp_path / 'error.log'} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    upstream pix_payments {{ server 127.0.0.1:{backend.port}; }}
{site}
}}
""")
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf), "-e",
                                str(tmp_path / "error.log"), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    urls = [f"https://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(urls[0] + "/", verify=str(tls["server_ca"]), timeout=2)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: "
                                       + (tmp_path / "error.log").read_text()) from None
                time.sleep(0.2)
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=10)
        backend.server.shutdown()
        backend.server.server_close()


def post(url, tls, who=None):
    cert = None if who is None else tuple(str(path) for path in tls[who])
    return requests.post(url + CALLBACK, json={"pix": []}, cert=cert,
                         verify=str(tls["server_ca"]), timeout=5)


def test_only_the_provider_reaches_the_callback_on_the_shop_server(nginx, tls):
    shop, _ = nginx

    assert post(shop, tls, "provider").status_code == 200
    assert post(shop, tls).status_code == 403
    assert post(shop, tls, "stranger").status_code in (400, 403)
    page = requests.get(shop + "/payments/pix/abc", verify=str(tls["server_ca"]), timeout=5)
    assert page.status_code == 200 and page.text == "/payments/pix/abc"  # no certificate needed


def test_the_callbacks_only_server_requires_a_certificate(nginx, tls):
    _, callbacks = nginx

    assert post(callbacks, tls, "provider").status_code == 200
    assert post(callbacks, tls).status_code == 400  # nginx: "No required SSL certificate"
    assert post(callbacks, tls, "stranger").status_code == 400
    assert requests.get(callbacks + "/", cert=tuple(str(p) for p in tls["provider"]),
                        verify=str(tls["server_ca"]), timeout=5).status_code == 404
