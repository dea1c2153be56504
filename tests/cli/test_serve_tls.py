"""`mixun serve --tls-cert --tls-key` (issue 22 item 6): HTTPS and WSS from the server itself, with a
self-signed certificate made here; a missing or mismatched key is refused before serving."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import time
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import PASSWORD, host_env
from tests.helpers import MIXUN, Server, add_people


def self_signed(where: Path, name: str = "cert") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "im.bank.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = where / f"{name}.pem", where / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_serve_https_and_wss(tmp_path: Path) -> None:
    from websockets.sync.client import connect as ws_connect

    from mixun.config import load_settings

    data = tmp_path / "data"
    add_people(load_settings({"MIXUN_DATA_DIR": str(data)}))
    cert, key = self_signed(tmp_path)
    server = Server(data, serve_args=("--tls-cert", str(cert), "--tls-key", str(key)))
    url = f"https://127.0.0.1:{server.port}"
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.proc.poll() is None, server.output()
            try:
                r = httpx.get(url + "/api/v1/health", verify=trust, timeout=2)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        # Plain HTTP on the same port is not answered as HTTP.
        try:
            plain = httpx.get(f"http://127.0.0.1:{server.port}/api/v1/health", timeout=3)
            assert plain.status_code != 200
        except httpx.HTTPError:
            pass
        # The certificate presented is ours, over TLS 1.2 or later.
        ctx = ssl.create_default_context(cafile=str(cert))
        import socket

        with socket.create_connection(("127.0.0.1", server.port)) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            der = tls.getpeercert(binary_form=True)
        assert x509.load_der_x509_certificate(der) == x509.load_pem_x509_certificate(cert.read_bytes())
        r = httpx.post(url + "/api/v1/auth/login", json={"username": "zhangsan", "password": PASSWORD},
                       verify=trust)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        with ws_connect(f"wss://127.0.0.1:{server.port}/api/v1/ws?token={token}", ssl=ctx) as ws:
            assert '"hello"' in ws.recv(timeout=10)
        # An unverified client is refused by its own TLS check: the server is not trusted blindly.
        try:
            httpx.get(url + "/api/v1/health", timeout=3)
            raise AssertionError("a client without the certificate connected")
        except httpx.ConnectError:
            pass
    finally:
        server.stop()


def test_serve_refuses_bad_tls_options(tmp_path: Path) -> None:
    env = {**host_env(),
           "MIXUN_DATA_DIR": str(tmp_path / "data")}
    cert, key = self_signed(tmp_path)
    other_cert, _other_key = self_signed(tmp_path, "other")
    cases = [
        (["--tls-cert", str(cert)], "go together"),
        (["--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.key")], "no such file"),
        (["--tls-cert", str(other_cert), "--tls-key", str(key)], "cannot be used together"),
    ]
    for extra, expected in cases:
        out = subprocess.run([MIXUN, "serve", "--port", "1", *extra], env=env, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 2, (extra, out.stderr)
        assert expected in out.stderr, (extra, out.stderr)
