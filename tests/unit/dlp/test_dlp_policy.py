"""Policy decisions: default actions per channel, sender exceptions, thresholds and what recipients see."""

from __future__ import annotations

import json

import pytest

from mixun.domain.dlp import DEFAULT_POLICY, DlpEngine, Policy, Rule, decide

ENGINE = DlpEngine()
ID18 = "11010519491231002X"
MOBILE = "13912345678"


def verdict(text: str, channel: str, policy: Policy = DEFAULT_POLICY, roles=(), unit="总行/零售部"):
    return decide(ENGINE.scan(text), policy, channel=channel, roles=roles, unit_path=unit)


def test_personal_data_is_masked_in_groups_and_announcements():
    """In a group the message goes out with the ID number masked."""
    text = f"客户身份证{ID18}，手机{MOBILE}"
    for channel in ("group", "announcement"):
        v = verdict(text, channel)
        assert v.action == "mask"
        assert v.masked_text(text) == "客户身份证110105********002X，手机139****5678"


def test_personal_data_needs_confirmation_one_to_one_and_in_files():
    """In a 1:1 chat or a file the sender must confirm before personal data is sent."""
    for channel in ("direct", "file", "drive"):
        v = verdict(f"身份证{ID18}", channel)
        assert v.action == "warn" and v.needs_confirmation


@pytest.mark.parametrize(
    "text", ["机密★5年 授信方案", "密码：Abc@12345", "AKIAIOSFODNN7EXAMPLE", "最新网络赌博平台"]
)
def test_markings_credentials_keys_and_prohibited_content_are_blocked_everywhere(text):
    """Classified markings, credentials, keys and prohibited content are blocked on every channel."""
    for channel in ("direct", "group", "announcement", "file", "drive"):
        assert verdict(text, channel).blocked


def test_bulk_id_numbers_are_blocked_as_customer_data():
    """Five or more ID numbers in one message is bulk customer data: blocked even 1:1."""
    ids = [f"11010519491231{n:03d}" for n in range(0, 200)]
    from mixun.domain.dlp.checksums import gb11643_check_char

    valid = [i + gb11643_check_char(i) for i in ids][:5]
    text = "\n".join(f"客户{n} 身份证{v}" for n, v in enumerate(valid))
    v = verdict(text, "direct")
    assert v.action == "block" and "bulk_id_numbers" in v.thresholds
    assert verdict("\n".join(text.splitlines()[:4]), "direct").action == "warn"


def test_strongest_action_wins():
    """A message with a maskable ID and a blocked password is blocked."""
    assert verdict(f"身份证{ID18} 密码：Abc@12345", "group").action == "block"


def test_clean_text_is_allowed():
    """An ordinary message passes untouched."""
    v = verdict("明天上午9点开会，请准时参加", "group")
    assert v.action == "allow" and v.decisions == () and v.masked_text("x") == "x"


def test_role_and_unit_exceptions_come_first():
    """secadmin can let a unit (and everything below it) or a role send personal data 1:1."""
    policy = Policy(
        rules=(
            Rule("allow", frozenset({"cn_id_card"}), unit_prefix="总行/个人金融部"),
            Rule("allow", frozenset({"cn_mobile"}), roles=frozenset({"compliance"})),
            *DEFAULT_POLICY.rules,
        ),
        thresholds=DEFAULT_POLICY.thresholds,
    )
    text = f"身份证{ID18}"
    assert verdict(text, "direct", policy, unit="总行/个人金融部/二组").action == "allow"
    assert verdict(text, "direct", policy, unit="总行/个人金融部门").action == "warn"  # not under it
    assert verdict(f"手机{MOBILE}", "direct", policy, roles=["compliance"]).action == "allow"
    assert verdict(f"手机{MOBILE}", "direct", policy, roles=["employee"]).action == "warn"


def test_policy_round_trips_through_json():
    """A policy saved as JSON and loaded again decides exactly as before."""
    d = json.loads(json.dumps(DEFAULT_POLICY.to_dict()))
    assert Policy.from_dict(d) == DEFAULT_POLICY
    custom = {"rules": [{"action": "hold", "detectors": ["email"], "channels": ["announcement"]}],
              "thresholds": [{"detectors": ["cn_mobile"], "count": 3, "action": "block"}]}
    p = Policy.from_dict(custom)
    assert Policy.from_dict(p.to_dict()) == p
    assert verdict("请联系 a.b@bank.cn", "announcement", p).action == "hold"
    assert verdict("请联系 a.b@bank.cn", "group", p).action == "allow"


@pytest.mark.parametrize(
    "bad",
    [{"rules": [{"action": "explode"}]}, {"rules": [{"action": "block", "detectors": ["nope"]}]},
     {"rules": [{"action": "block", "channels": ["sms"]}]}, {"thresholds": [{"count": 0, "action": "block"}]},
     {"version": 2}],
)
def test_invalid_policies_are_refused(bad):
    """Unknown actions, detectors or channels are rejected rather than silently ignored."""
    with pytest.raises(ValueError):
        Policy.from_dict(bad)


def test_unknown_channel_is_an_error():
    """Deciding for a channel that does not exist is a programming error, not an allow."""
    with pytest.raises(ValueError):
        decide([], DEFAULT_POLICY, channel="sms", roles=(), unit_path="")
