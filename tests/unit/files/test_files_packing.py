"""Secure packing (D2): password rules, AES-256 archives, scanning before packing."""

from __future__ import annotations

import io
import zipfile

import pytest
import pyzipper
from files_samples import make_docx, make_xlsx

from mixun.domain.dlp import DEFAULT_POLICY, DlpEngine
from mixun.files.packing import (
    PackRefused,
    WeakPackPassword,
    check_pack_password,
    is_encrypted_zip,
    scan_and_pack,
    secure_pack,
)

PASSWORD = "Hetong#2024"
ENGINE = DlpEngine()


@pytest.mark.parametrize(
    ("password", "failed"),
    [
        ("Hetong#2024", []),
        ("Ab1!", ["min_length"]),
        ("12345678!", ["letters"]),
        ("abcdefgh!", ["digits"]),
        ("abcd1234", ["symbols"]),
        ("", ["min_length", "letters", "digits", "symbols"]),
        ("合同密码2024!", []),
    ],
)
def test_pack_password_rules(password, failed):
    """A pack password needs 8+ characters with letters, digits and symbols; the failed rules are named."""
    assert check_pack_password(password) == failed


def test_secure_pack_is_aes256_and_opens_only_with_the_password():
    """The archive is AES-256 encrypted: it opens with the password and not without."""
    data = secure_pack([("合同.docx", b"contract"), ("../../etc/passwd", b"x"), ("合同.docx", b"second")], PASSWORD)
    assert is_encrypted_zip(data)
    with zipfile.ZipFile(io.BytesIO(data)) as raw:
        for info in raw.infolist():
            # WinZip AES: method 99 and the 0x9901 extra field whose strength byte 3 means 256-bit.
            i = info.extra.find(b"\x01\x99")
            assert info.compress_type == 99 and i >= 0 and info.extra[i + 8] == 3
    with pyzipper.AESZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert names == ["合同.docx", "passwd", "合同(2).docx"]
        zf.setpassword(PASSWORD.encode())
        assert zf.read("合同.docx") == b"contract"
        zf.setpassword(b"wrong-Passw0rd!")
        with pytest.raises(RuntimeError):
            zf.read("合同(2).docx")


def test_weak_password_is_refused_and_never_echoed():
    """A weak password is refused naming the rules, and the password itself appears in no message."""
    with pytest.raises(WeakPackPassword) as exc:
        secure_pack([("a.txt", b"x")], "abc12345")
    assert exc.value.failed == ["symbols"] and "abc12345" not in str(exc.value)


def test_plain_zip_is_not_encrypted():
    """An ordinary ZIP or a non-ZIP is not an encrypted archive."""
    buf = io.BytesIO()
    with pyzipper.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "x")
    assert not is_encrypted_zip(buf.getvalue())
    assert not is_encrypted_zip(b"not a zip")


def test_scan_and_pack_allows_personal_data_but_refuses_markings():
    """A customer list may travel packed; a document marked 机密 or holding a password may not."""
    ok = scan_and_pack([("客户.xlsx", make_xlsx([["张三", "11010519491231002X"]]))], PASSWORD, ENGINE, DEFAULT_POLICY)
    assert is_encrypted_zip(ok.data) and ok.verdicts["客户.xlsx"].action == "warn"
    with pytest.raises(PackRefused) as exc:
        scan_and_pack(
            [("方案.docx", make_docx(["正文"], header="机密★5年")), ("ok.txt", "你好".encode()),
             ("pw.txt", "wifi密码：Abc@12345".encode())],
            PASSWORD, ENGINE, DEFAULT_POLICY,
        )
    assert set(exc.value.refused) == {"方案.docx", "pw.txt"}
    assert exc.value.refused["方案.docx"].reason == "classified_marking"
    assert PASSWORD not in str(exc.value)


def test_scan_and_pack_checks_the_password_first():
    """A weak password is refused before any file is opened."""
    with pytest.raises(WeakPackPassword):
        scan_and_pack([("x.bin", b"MZ")], "short", ENGINE, DEFAULT_POLICY)
