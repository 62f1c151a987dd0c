"""tenants.yaml validation: every problem is an error naming the file, the tenant and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vetorial_assets.settings import ConfigError, shipped_tenants_file
from vetorial_assets.tenants import load_tenants, parse_tenants

PATH = Path("/etc/vetorial/tenants.yaml")


def test_shipped_demo_file_is_valid():
    tenants = load_tenants(shipped_tenants_file())
    assert tenants.ids == ["allpfit", "lacrei"]
    assert tenants.tenant_of_ad_account("act_100000000000003").id == "lacrei"
    assert tenants.by_id("allpfit").chatwoot.inbox_ids == (14, 15)


@pytest.mark.parametrize(
    "text, message",
    [
        ("tenants:\n  - id: a\n    colour: blue\n", r"tenant 'a', field 'colour': unknown key"),
        ("tenants:\n  - id: a\n  - id: a\n", r"tenant 'a', field 'id': duplicate tenant id"),
        (
            "tenants:\n  - id: a\n    meta_ad_accounts: [act_1]\n  - id: b\n    meta_ad_accounts: [act_1]\n",
            r"tenant 'b', field 'meta_ad_accounts': 'act_1' already belongs to tenant 'a'",
        ),
        (
            "tenants:\n  - id: a\n    instagram_accounts: ['178']\n  - id: b\n    instagram_accounts: ['178']\n",
            r"tenant 'b', field 'instagram_accounts': '178' already belongs to tenant 'a'",
        ),
        (
            "tenants:\n  - id: a\n    access_token: EAAxyz\n",
            r"tenant 'a', field 'access_token': tokens must not be written",
        ),
        (
            "tenants:\n  - id: a\n    meta_token_env: EAAB-not-an-env-name\n",
            r"tenant 'a', field 'meta_token_env': must be the NAME of an env var",
        ),
        ("tenants:\n  - id: a\n    meta_ad_accounts: ['123']\n", r"field 'meta_ad_accounts': '123' is not a valid id"),
        (
            "tenants:\n  - id: a\n    chatwoot: {account_id: 1, inboxes: [2]}\n",
            r"field 'chatwoot.inboxes': unknown key",
        ),
        (
            "tenants:\n  - id: a\n    chatwoot: {account_id: 1}\n"
            "  - id: b\n    chatwoot: {account_id: 1, inbox_ids: [3]}\n",
            r"tenant 'a', field 'chatwoot.inbox_ids': required because Chatwoot account 1 is shared",
        ),
        ("tenants: [\n", r"not valid YAML"),
        ("clients: []\n", r"expected a top-level 'tenants:' list"),
    ],
)
def test_invalid_files_name_file_tenant_and_field(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_tenants(text, PATH)
    assert str(err.value).startswith(str(PATH))


def test_an_inline_token_is_never_echoed():
    with pytest.raises(ConfigError) as err:
        parse_tenants("tenants:\n  - id: a\n    meta_token_env: EAAB-secret-value\n", PATH)
    assert "EAAB-secret-value" not in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_tenants(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- hostile files (issue 11, defect 9)


def _bomb(levels: int = 9) -> str:
    """The classic "billion laughs", nested into a tenant's name: 9**9 strings once expanded."""
    lists = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lists += [f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "tenants:\n  - id: bomb\n    name: [" + ", ".join(lists) + "]\n"


def test_an_alias_bomb_is_rejected_at_its_first_anchor():
    text = _bomb()
    assert len(text.encode()) < 1000
    with pytest.raises(ConfigError) as err:
        parse_tenants(text, PATH)
    assert str(err.value) == (
        f"{PATH}: line 3: tenant 'bomb', field 'name.0': YAML anchors and aliases "
        "(&name, *name) are not allowed in a tenants file; write each value out"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        # A second top-level key would replace the first list.
        (
            "tenants:\n  - id: a\ntenants:\n  - id: b\n",
            r"line 3: field 'tenants': duplicate key \(first at line 1\); YAML would keep only the last one",
        ),
        (
            "tenants:\n  - id: a\n    name: A\n    name: B\n",
            r"line 4: tenant 'a', field 'name': duplicate key \(first at line 3\)",
        ),
        (
            "tenants:\n  - id: a\n    chatwoot: {account_id: 1, account_id: 2}\n",
            r"line 3: tenant 'a', field 'chatwoot.account_id': duplicate key \(first at line 3\)",
        ),
        (
            "tenants:\n  - id: a\n    meta_ad_accounts: &accts [act_1]\n  - id: b\n    meta_ad_accounts: *accts\n",
            r"line 3: tenant 'a', field 'meta_ad_accounts': YAML anchors and aliases",
        ),
        ("defaults: &d {name: X}\ntenants:\n  - id: a\n", r"line 1: field 'defaults': YAML anchors and aliases"),
    ],
)
def test_duplicate_keys_and_aliases_are_rejected_naming_line_tenant_and_field(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_tenants(text, PATH)
    assert str(err.value).startswith(f"{PATH}: ")


@pytest.mark.parametrize(
    "chatwoot, field, shown",
    [
        ("{account_id: -1}", "chatwoot.account_id", "-1"),
        ("{account_id: 0}", "chatwoot.account_id", "0"),
        ("{account_id: 12345678901234567890}", "chatwoot.account_id", "12345678901234567890"),
        ("{account_id: '7'}", "chatwoot.account_id", "'7'"),
        ("{account_id: 1, inbox_ids: [3, -4]}", "chatwoot.inbox_ids", "-4"),
        ("{account_id: 1, inbox_ids: [99999999999999999999]}", "chatwoot.inbox_ids", "99999999999999999999"),
    ],
)
def test_chatwoot_ids_must_be_positive_and_fit_bigint(chatwoot, field, shown):
    with pytest.raises(ConfigError) as err:
        parse_tenants(f"tenants:\n  - id: a\n    chatwoot: {chatwoot}\n", PATH)
    assert str(err.value) == (
        f"{PATH}: tenant 'a', field '{field}': must be a positive whole number of at most "
        f"9223372036854775807 (a Chatwoot id), got {shown}"
    )


def test_the_largest_bigint_is_a_valid_chatwoot_id():
    tenants = parse_tenants(
        "tenants:\n  - id: a\n    chatwoot: {account_id: 9223372036854775807, inbox_ids: [1]}\n", PATH
    )
    assert tenants.by_id("a").chatwoot.account_id == 2**63 - 1


@pytest.mark.parametrize(
    "name, message",
    [
        ("[A, B]", "must be a string, got list"),
        ("{first: A}", "must be a string, got dict"),
        ("12", "must be a string, got int"),
        ("'" + "x" * 201 + "'", "must be 1 to 200 characters, got 201"),
        ("'  '", "must be 1 to 200 characters, got 2"),
    ],
)
def test_name_must_be_a_short_string(name, message):
    with pytest.raises(ConfigError) as err:
        parse_tenants(f"tenants:\n  - id: a\n    name: {name}\n", PATH)
    assert str(err.value) == f"{PATH}: tenant 'a', field 'name': {message}"


def test_a_missing_name_is_the_tenant_id():
    assert parse_tenants("tenants:\n  - id: a\n", PATH).by_id("a").name == "a"


@pytest.mark.parametrize(
    "text, message",
    [
        ("tenants:\n  - id: " + "a" * 64 + "\n", r"tenants\[0\], field 'id': required; 1 to 63 lowercase"),
        ("tenants:\n  - id: [a]\n", r"tenants\[0\], field 'id': required"),
        (
            "tenants:\n  - id: a\n    instagram_accounts: ['1" + "0" * 20 + "']\n",
            r"tenant 'a', field 'instagram_accounts': '1000.*' is not a valid id",
        ),
        (
            "tenants:\n  - id: a\n    meta_ad_accounts: [[act_1]]\n",
            r"tenant 'a', field 'meta_ad_accounts': \['act_1'\] is not a valid id",
        ),
        (
            "tenants:\n  - id: a\n    instagram_accounts: [true]\n",
            r"field 'instagram_accounts': True is not a valid id",
        ),
        ('tenants:\n  - id: "a\'; DROP TABLE raw.ig_follows; --"\n', r"tenants\[0\], field 'id': required"),
    ],
)
def test_ids_are_bounded_and_injection_shaped_ones_rejected(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_tenants(text, PATH)


def test_a_huge_value_is_not_echoed_whole():
    with pytest.raises(ConfigError) as err:
        parse_tenants("tenants:\n  - id: a\n    meta_ad_accounts: ['" + "9" * 100_000 + "']\n", PATH)
    assert "is not a valid id" in str(err.value) and len(str(err.value)) < 300


def test_a_file_over_one_megabyte_is_rejected_before_parsing(tmp_path):
    big = tmp_path / "tenants.yaml"
    body = "tenants:\n  - id: a\n" + "# padding\n" * 100_001
    big.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_tenants(big)
    assert str(err.value) == (f"{big}: the file is {len(body):,} bytes; a tenants file may be at most 1,000,000 bytes")
    with pytest.raises(ConfigError, match=r"may be at most 1,000,000 bytes"):
        parse_tenants(body, PATH)


def test_a_file_that_is_not_utf8_is_rejected(tmp_path):
    bad = tmp_path / "tenants.yaml"
    bad.write_bytes(b"tenants:\n  - id: a\n    name: \xff\xfe\n")
    with pytest.raises(ConfigError, match=rf"{bad}: not UTF-8 text \(byte 29\)"):
        load_tenants(bad)
