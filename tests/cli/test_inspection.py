"""The inspection report (issue 22 item 8): `mixun report inspection --from --to --out FILE` (HTML or PDF,
with a progress bar) and the same download in the consoles; DLP hits by unit, detector and action per
day, violations, account checks, fault reports and their SLA, the audit trail's verification."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdf
from sqlalchemy import update

from tests.conftest import Env, host_env
from tests.helpers import MIXUN, direct, send, staff


def _activity(env: Env) -> tuple[str, str]:
    """A blocked send, a resolved fault report (late) and an open one; (sysadmin token, employee token)."""
    from mixun.db.models_ops import FaultReport

    a, ta = env.person("zhangsan", "张三", unit="总行/信息科技部")
    b, _tb = env.person("lisi", "李四", unit="总行/风险管理部")
    _s, sys_tok = staff(env, "sys1", "系统员", "sysadmin")
    conv = direct(env, ta, b)
    assert send(env, ta, conv, "机密★5年 关于授信的批复").status_code == 422
    assert send(env, ta, conv, "秘密★ 会议纪要").status_code == 422
    h = env.h(ta)
    late = env.client.post("/api/v1/faults", headers=h, json={"title": "打印失败"}).json()["id"]
    env.client.post("/api/v1/faults", headers=h, json={"title": "无法登录"})
    with env.rt.db.write() as s:
        s.execute(update(FaultReport).where(FaultReport.id == late).values(
            created_at=datetime.now(UTC) - timedelta(hours=30), due_at=datetime.now(UTC) - timedelta(hours=6)))
    assert env.client.post(f"/api/v1/admin/faults/{late}/resolve", headers=env.h(sys_tok),
                           json={"resolution": "已更换硒鼓"}).status_code == 200
    return sys_tok, ta


def test_inspection_report_in_the_console(env: Env) -> None:
    sys_tok, emp = _activity(env)
    today = datetime.now(UTC).date()
    q = f"from={(today - timedelta(days=6)).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"
    r = env.client.get(f"/api/v1/admin/reports/inspection?{q}", headers=env.h(sys_tok))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html") and "attachment" in r.headers["content-disposition"]
    page = r.text
    assert "密讯安全巡检报告" in page and page.count("<svg") >= 5
    assert "总行/信息科技部" in page  # DLP hits by unit
    assert "classified_marking" in page  # by detector
    assert "审计日志校验通过" in page
    assert "按时解决率" in page and "0.0%" in page  # the one resolved report was late
    assert "本版本未启用网盘" in page
    # Other administrators: secadmin and auditor may download it; an employee may not.
    _c, sec = staff(env, "sec1", "安全员", "secadmin")
    _d, aud = staff(env, "aud1", "审计员", "auditor")
    for tok in (sec, aud):
        assert env.client.get(f"/api/v1/admin/reports/inspection?{q}", headers=env.h(tok)).status_code == 200
    assert env.client.get(f"/api/v1/admin/reports/inspection?{q}", headers=env.h(emp)).status_code == 403
    # Bad input: a clear 422.
    for bad in ("from=2026-12-07&to=2026-12-01", "from=2025-01-01&to=2026-12-01", "from=yesterday&to=2026-12-01",
                f"{q}&format=docx"):
        r = env.client.get(f"/api/v1/admin/reports/inspection?{bad}", headers=env.h(sys_tok))
        assert r.status_code == 422, (bad, r.text)
    # Each download is in the audit trail.
    audit = env.client.get("/api/v1/admin/audit?action=report.inspection", headers=env.h(aud)).json()
    assert any(x["action"] == "report.inspection" for x in audit["records"])


def test_report_inspection_cli_html_and_pdf(env: Env, tmp_path: Path) -> None:
    _activity(env)
    cli_env = {**host_env(),
               "MIXUN_DATA_DIR": str(env.settings.data_dir), "MIXUN_DATABASE_URL": env.settings.database_url}
    today = datetime.now(UTC).date()
    days = ["--from", (today - timedelta(days=30)).isoformat(), "--to", today.isoformat()]
    out = subprocess.run([MIXUN, "report", "inspection", *days, "--out", str(tmp_path / "r.html")], env=cli_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "巡检 inspection: 6/6" in out.stderr  # the progress bar's last line (not a terminal)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "密讯安全巡检报告" in page and "总行/信息科技部" in page
    out = subprocess.run([MIXUN, "report", "inspection", *days, "--out", str(tmp_path / "r.pdf")], env=cli_env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    pdf = pypdf.PdfReader(io.BytesIO((tmp_path / "r.pdf").read_bytes()))
    first = pdf.pages[0].extract_text()
    assert "巡检报告" in first and "DLP" in first  # Chinese text rendered (a CJK font embedded)
    for bad, msg in ((["--out", str(tmp_path / "r.docx")], ".html or .pdf"),
                     (["--from", "2026-13-01"], "dates")):
        args = [*days, "--out", str(tmp_path / "x.html")]
        if bad[0] == "--out":
            args = [*days, *bad]
        else:
            args = [*bad, "--to", today.isoformat(), "--out", str(tmp_path / "x.html")]
        r = subprocess.run([MIXUN, "report", "inspection", *args], env=cli_env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 2 and msg in r.stderr, r.stderr
    r = subprocess.run([MIXUN, "report", "inspection", "--from", today.isoformat(), "--to",
                        (today - timedelta(days=3)).isoformat(), "--out", str(tmp_path / "x.html")], env=cli_env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "validation_failed" in r.stderr
    assert not (tmp_path / "x.html").exists()
