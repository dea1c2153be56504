"""LDAP / Active Directory sync (issue 21 item 2) against a real OpenLDAP slapd the test starts: its own
config in a temp dir, an OU tree and people loaded with ldapadd, changed with ldapmodify, stopped at the
end. The sync is HR's import engine: created / moved / renamed / departed / unchanged, a dry run that
changes nothing, one audited transaction, the last run kept for HR's console, the bind password never
in a message or the audit trail."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import Env, fresh_database, host_env
from tests.helpers import MIXUN, free_port

SLAPD = "/usr/sbin/slapd"
BASE = "dc=bank,dc=cn"
ADMIN = f"cn=admin,{BASE}"
PASSWORD = "s3cret-bind-Pw"  # noqa: S105 - the throwaway directory's own password

TREE = f"""dn: {BASE}
objectClass: dcObject
objectClass: organization
o: bank
dc: bank

dn: ou=总行,{BASE}
objectClass: organizationalUnit
ou: 总行

dn: ou=信息科技部,ou=总行,{BASE}
objectClass: organizationalUnit
ou: 信息科技部

dn: ou=运营管理部,ou=总行,{BASE}
objectClass: organizationalUnit
ou: 运营管理部

""" + "\n".join(f"""dn: uid={uid},ou={unit},ou=总行,{BASE}
objectClass: inetOrgPerson
uid: {uid}
cn: {name}
sn: {name[0]}
employeeNumber: {no}
title: {title}
telephoneNumber: 1390000{no[-4:]}
employeeType: {kind}
""" for uid, name, no, unit, title, kind in (
    ("zhangsan", "张三", "L0001001", "信息科技部", "工程师", "active"),
    ("lisi", "李四", "L0001002", "信息科技部", "主管", "active"),
    ("wangwu", "王五", "L0001003", "运营管理部", "柜员", "departed"),
))


class Slapd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        (root / "db").mkdir(parents=True)
        conf = root / "slapd.conf"
        conf.write_text(f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {root}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "{BASE}"
rootdn "{ADMIN}"
rootpw {PASSWORD}
directory {root}/db
maxsize 10485760
""")
        self.log = (root / "slapd.log").open("wb")
        self.proc = subprocess.Popen([SLAPD, "-f", str(conf), "-h", self.url + "/", "-d", "0"], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.ldap("ldapsearch", "-b", "", "-s", "base", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError("slapd did not start: " + (root / "slapd.log").read_text(errors="replace"))

    def ldap(self, tool: str, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([tool, "-x", "-H", self.url, "-D", ADMIN, "-w", PASSWORD, *args], input=stdin,
                             capture_output=True, text=True, timeout=30)
        if check:
            assert out.returncode == 0, out.stderr
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    if not (os.path.exists(SLAPD) and shutil.which("ldapadd")):
        pytest.skip("slapd / ldap-utils not installed (make install-browser)")
    server = Slapd(tmp_path / "slapd")
    try:
        server.ldap("ldapadd", stdin=TREE)
        yield server
    finally:
        server.stop()


def _settings(server: Slapd, password: str = PASSWORD) -> dict[str, str]:
    return {"MIXUN_LDAP_URL": server.url, "MIXUN_LDAP_BIND_DN": ADMIN, "MIXUN_LDAP_PASSWORD": password,
            "MIXUN_LDAP_BASE_DN": BASE, "MIXUN_LDAP_ATTR_STATUS": "employeeType"}


def _ctx(env: Env):  # type: ignore[no-untyped-def]
    from mixun.services.runtime import Ctx

    return Ctx(rt=env.rt, ip="127.0.0.1", client="cli")


def test_ldap_sync_follows_the_directory(env: Env, slapd: Slapd) -> None:
    from mixun.db.models import AuditLog, Unit, User
    from mixun.services import ldap_sync

    extra = _settings(slapd)
    with env.rt.db.read() as s:
        before = s.execute(select(func.count()).select_from(User)).scalar_one()
    dry = ldap_sync.run_sync(_ctx(env), extra, dry_run=True)
    assert dry["entries"] == 3 and dry["counts"]["created"] == 2
    assert {r["employee_no"] for r in dry["rows"] if r["action"] == "created"} == {"L0001001", "L0001002"}
    with env.rt.db.read() as s:
        assert s.execute(select(func.count()).select_from(User)).scalar_one() == before  # nothing changed
        assert s.execute(select(Unit.id).where(Unit.path == "总行/运营管理部")).first() is None

    real = ldap_sync.run_sync(_ctx(env), extra, dry_run=False)
    assert real["counts"]["created"] == 2 and not real["errors"]
    with env.rt.db.read() as s:
        zs = s.execute(select(User).where(User.employee_no == "L0001001")).scalar_one()
        assert (zs.username, zs.name, zs.position, zs.hr_verified) == ("zhangsan", "张三", "工程师", True)
        assert s.get(Unit, zs.unit_id).path == "总行/信息科技部"
        assert s.execute(select(User.id).where(User.employee_no == "L0001003")).first() is None  # departed, no account

    # HR's directory changes: lisi moves, zhangsan is renamed, zhaoliu joins
    slapd.ldap("ldapmodrdn", "-r", "-s", f"ou=运营管理部,ou=总行,{BASE}", f"uid=lisi,ou=信息科技部,ou=总行,{BASE}",
               "uid=lisi")
    slapd.ldap("ldapmodify", stdin=f"""dn: uid=zhangsan,ou=信息科技部,ou=总行,{BASE}
changetype: modify
replace: cn
cn: 张珊

dn: uid=zhaoliu,ou=运营管理部,ou=总行,{BASE}
changetype: add
objectClass: inetOrgPerson
uid: zhaoliu
cn: 赵六
sn: 赵
employeeNumber: L0001004
employeeType: active
""")
    out = ldap_sync.run_sync(_ctx(env), extra, dry_run=False)
    assert {k: out["counts"][k] for k in ("created", "moved", "renamed", "departed")} == \
        {"created": 1, "moved": 1, "renamed": 1, "departed": 0}, out
    assert out["counts"]["units_created"] == 1  # 总行/运营管理部, from the OU tree
    assert out["counts"]["unchanged"] == 1  # wangwu: departed, never had an account
    # zhaoliu leaves: a departure, with sessions ended as any departure
    slapd.ldap("ldapmodify", stdin=f"""dn: uid=zhaoliu,ou=运营管理部,ou=总行,{BASE}
changetype: modify
replace: employeeType
employeeType: departed
""")
    out = ldap_sync.run_sync(_ctx(env), extra, dry_run=False)
    assert out["counts"]["departed"] == 1 and out["counts"]["unchanged"] == 3
    with env.rt.db.read() as s:
        zl = s.execute(select(User).where(User.employee_no == "L0001004")).scalar_one()
        assert zl.departed_at is not None
        actions = [a for (a,) in s.execute(select(AuditLog.action).where(AuditLog.action == "org.ldap_synced"))]
        assert len(actions) == 3  # every real run; the dry run left nothing
    last = ldap_sync.last_sync(_ctx(env))
    assert last is not None and last["ok"] and last["counts"]["departed"] == 1 and not last["dry_run"]


def test_ldap_sync_failures_are_recorded_without_the_password(env: Env, slapd: Slapd,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from mixun.db.models import AuditLog
    from mixun.services import ldap_sync

    wrong = "Wr0ng-" + PASSWORD
    with pytest.raises(ldap_sync.LdapSyncError) as exc:
        ldap_sync.run_sync(_ctx(env), _settings(slapd, wrong), dry_run=False)
    assert "bind" in str(exc.value) and wrong not in str(exc.value) and PASSWORD not in str(exc.value)
    assert wrong not in caplog.text
    last = ldap_sync.last_sync(_ctx(env))
    assert last is not None and not last["ok"] and "bind" in last["errors"][0]["en"] and wrong not in str(last)
    assert last["errors"][0]["zh"].startswith("无法读取目录")
    with pytest.raises(ldap_sync.LdapSyncError, match="MIXUN_LDAP_URL"):
        ldap_sync.run_sync(_ctx(env), {}, dry_run=True)
    # a row the engine refuses (two entries with one employee number): nothing changes, the error kept
    slapd.ldap("ldapadd", stdin=f"""dn: uid=twin,ou=信息科技部,ou=总行,{BASE}
objectClass: inetOrgPerson
uid: twin
cn: 张三二
sn: 张
employeeNumber: L0001001
""")
    out = ldap_sync.run_sync(_ctx(env), _settings(slapd), dry_run=False)
    assert out["errors"] and out["counts"]["created"] >= 1
    with env.rt.db.read() as s:
        assert not list(s.execute(select(AuditLog.id).where(AuditLog.action == "org.ldap_synced")))
    last = ldap_sync.last_sync(_ctx(env))
    assert last is not None and not last["ok"] and "L0001001" in last["errors"][0]["en"]
    assert last["errors"][0]["zh"].startswith("工号 L0001001：")
    # HR's console reads it
    _uid, t = env.person("hr1", "人事专员", roles=["hr"])
    r = env.client.get("/api/v1/org/ldap-sync", headers=env.h(t))
    assert r.status_code == 200 and r.json()["last"]["ok"] is False
    _e, te = env.person("zhangsan2", "张三")
    assert env.client.get("/api/v1/org/ldap-sync", headers=env.h(te)).status_code == 403


def test_cli_ldap_sync_dry_run_and_real(tmp_path: Path, slapd: Slapd) -> None:
    """`mixun org ldap-sync [--dry-run]` prints what `mixun org import` prints; a dry run changes nothing."""
    url, cleanup = fresh_database("sqlite", tmp_path)
    env = host_env() | {
        "MIXUN_DATA_DIR": str(tmp_path / "data"), "MIXUN_DATABASE_URL": url} | _settings(slapd)
    try:
        dry = subprocess.run([MIXUN, "org", "ldap-sync", "--dry-run"], env=env, capture_output=True, text=True,
                             timeout=120)
        assert dry.returncode == 0, dry.stderr
        assert "created L0001001 张三 zhangsan -> 总行/信息科技部" in dry.stdout and "created=2" in dry.stdout
        assert "dry run: nothing was changed" in dry.stderr and PASSWORD not in dry.stdout + dry.stderr
        real = subprocess.run([MIXUN, "org", "ldap-sync"], env=env, capture_output=True, text=True, timeout=120)
        assert real.returncode == 0 and "created=2" in real.stdout and "committed" in real.stderr
        again = subprocess.run([MIXUN, "org", "ldap-sync", "--json"], env=env, capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0 and '"created": 0' in again.stdout
        bad = subprocess.run([MIXUN, "org", "ldap-sync"], env=env | {"MIXUN_LDAP_PASSWORD": "nope-" + PASSWORD},
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and "nope-" not in bad.stdout + bad.stderr and "nothing was changed" in bad.stderr
    finally:
        cleanup()
