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


@pytest.mark.parametrize("text, message", [
    ("tenants:\n  - id: a\n    colour: blue\n", r"tenant 'a', field 'colour': unknown key"),
    ("tenants:\n  - id: a\n  - id: a\n", r"tenant 'a', field 'id': duplicate tenant id"),
    ("tenants:\n  - id: a\n    meta_ad_accounts: [act_1]\n  - id: b\n    meta_ad_accounts: [act_1]\n",
     r"tenant 'b', field 'meta_ad_accounts': 'act_1' already belongs to tenant 'a'"),
    ("tenants:\n  - id: a\n    instagram_accounts: ['178']\n  - id: b\n    instagram_accounts: ['178']\n",
     r"tenant 'b', field 'instagram_accounts': '178' already belongs to tenant 'a'"),
    ("tenants:\n  - id: a\n    access_token: EAAxyz\n", r"tenant 'a', field 'access_token': tokens must not be written"),
    ("tenants:\n  - id: a\n    meta_token_env: EAAB-not-an-env-name\n",
     r"tenant 'a', field 'meta_token_env': must be the NAME of an env var"),
    ("tenants:\n  - id: a\n    meta_ad_accounts: ['123']\n", r"field 'meta_ad_accounts': '123' is not a valid id"),
    ("tenants:\n  - id: a\n    chatwoot: {account_id: 1, inboxes: [2]}\n", r"field 'chatwoot.inboxes': unknown key"),
    ("tenants:\n  - id: a\n    chatwoot: {account_id: 1}\n  - id: b\n    chatwoot: {account_id: 1, inbox_ids: [3]}\n",
     r"tenant 'a', field 'chatwoot.inbox_ids': required because Chatwoot account 1 is shared"),
    ("tenants: [\n", r"not valid YAML"),
    ("clients: []\n", r"expected a top-level 'tenants:' list"),
])
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
