"""tenants.yaml: which ad accounts, Instagram accounts and Chatwoot inboxes belong to whom.

Validated completely at load time (before any run): every problem is reported with the
file, the tenant and the field, and tokens are only ever referenced by env var *name*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .settings import ConfigError

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_AD_ACCOUNT = re.compile(r"^act_[0-9]+$")
_NUMERIC_ID = re.compile(r"^[0-9]+$")
# Keys that would put a secret in the file itself.
_INLINE_SECRET_KEYS = {"token", "access_token", "meta_access_token", "password", "secret"}

_TENANT_KEYS = {"id", "name", "meta_ad_accounts", "instagram_accounts", "chatwoot", "meta_token_env"}
_CHATWOOT_KEYS = {"account_id", "inbox_ids"}


@dataclass(frozen=True)
class ChatwootScope:
    account_id: int
    inbox_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    meta_ad_accounts: tuple[str, ...] = ()
    instagram_accounts: tuple[str, ...] = ()
    chatwoot: ChatwootScope | None = None
    # Name of the env var holding this tenant's Meta token (never the token itself).
    meta_token_env: str = "META_ACCESS_TOKEN"


@dataclass(frozen=True)
class Tenants:
    tenants: tuple[Tenant, ...]
    source: Path = field(default=Path("<memory>"))

    def by_id(self, tenant_id: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        raise KeyError(f"unknown tenant {tenant_id!r} (known: {', '.join(self.ids)})")

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tenants]

    @property
    def ad_accounts(self) -> list[str]:
        return [a for t in self.tenants for a in t.meta_ad_accounts]

    @property
    def instagram_accounts(self) -> list[str]:
        return [a for t in self.tenants for a in t.instagram_accounts]

    @property
    def chatwoot_tenants(self) -> list[Tenant]:
        return [t for t in self.tenants if t.chatwoot is not None]

    def tenant_of_ad_account(self, account_id: str) -> Tenant:
        return self._owner(account_id, "meta_ad_accounts")

    def tenant_of_instagram_account(self, ig_account_id: str) -> Tenant:
        return self._owner(ig_account_id, "instagram_accounts")

    def _owner(self, account: str, attr: str) -> Tenant:
        for tenant in self.tenants:
            if account in getattr(tenant, attr):
                return tenant
        raise KeyError(f"account {account!r} is not in any tenant of {self.source}")


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def _id_list(path: Path, where: str, value, pattern: re.Pattern, example: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(path, where, f"must be a list, got {type(value).__name__}")
    out = []
    for item in value:
        text = str(item)
        if not pattern.match(text):
            raise _fail(path, where, f"{text!r} is not a valid id (expected something like {example})")
        out.append(text)
    if len(set(out)) != len(out):
        raise _fail(path, where, "lists the same account twice")
    return tuple(out)


def _int(path: Path, where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, where, f"must be a whole number, got {value!r}")
    return value


def _parse_tenant(path: Path, index: int, raw) -> Tenant:
    if not isinstance(raw, dict):
        raise _fail(path, f"tenants[{index}]", "must be a mapping")
    label = f"tenant {raw.get('id', f'#{index}')!r}"
    for key in raw:
        if key in _INLINE_SECRET_KEYS:
            raise _fail(path, f"{label}, field '{key}'",
                        "tokens must not be written in the file; put the env var name in 'meta_token_env'")
        if key not in _TENANT_KEYS:
            raise _fail(path, f"{label}, field '{key}'", f"unknown key (allowed: {', '.join(sorted(_TENANT_KEYS))})")
    tenant_id = raw.get("id")
    if not isinstance(tenant_id, str) or not _TENANT_ID.match(tenant_id):
        raise _fail(path, f"{label}, field 'id'", "required; lowercase letters, digits, '-' or '_'")
    token_env = raw.get("meta_token_env", "META_ACCESS_TOKEN")
    if not isinstance(token_env, str) or not _ENV_NAME.match(token_env):
        # Do not echo the value: it may be a pasted token.
        raise _fail(path, f"{label}, field 'meta_token_env'",
                    "must be the NAME of an env var (like META_TOKEN_ALLPFIT), not a token")
    chatwoot = None
    if raw.get("chatwoot") is not None:
        cw = raw["chatwoot"]
        if not isinstance(cw, dict):
            raise _fail(path, f"{label}, field 'chatwoot'", "must be a mapping with account_id and inbox_ids")
        for key in cw:
            if key not in _CHATWOOT_KEYS:
                raise _fail(path, f"{label}, field 'chatwoot.{key}'", "unknown key (allowed: account_id, inbox_ids)")
        if "account_id" not in cw:
            raise _fail(path, f"{label}, field 'chatwoot.account_id'", "required")
        inboxes = cw.get("inbox_ids") or []
        if not isinstance(inboxes, list):
            raise _fail(path, f"{label}, field 'chatwoot.inbox_ids'", "must be a list of numbers")
        chatwoot = ChatwootScope(
            account_id=_int(path, f"{label}, field 'chatwoot.account_id'", cw["account_id"]),
            inbox_ids=tuple(_int(path, f"{label}, field 'chatwoot.inbox_ids'", i) for i in inboxes),
        )
    return Tenant(
        id=tenant_id,
        name=str(raw.get("name") or tenant_id),
        meta_ad_accounts=_id_list(path, f"{label}, field 'meta_ad_accounts'", raw.get("meta_ad_accounts"),
                                  _AD_ACCOUNT, "act_1234567890"),
        instagram_accounts=_id_list(path, f"{label}, field 'instagram_accounts'", raw.get("instagram_accounts"),
                                    _NUMERIC_ID, "17841400000000000"),
        chatwoot=chatwoot,
        meta_token_env=token_env,
    )


def parse_tenants(text: str, path: Path) -> Tenants:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tenants"), list):
        raise ConfigError(f"{path}: expected a top-level 'tenants:' list")
    extra = set(doc) - {"tenants"}
    if extra:
        raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(map(str, extra)))}")
    tenants = [_parse_tenant(path, i, raw) for i, raw in enumerate(doc["tenants"])]
    if not tenants:
        raise ConfigError(f"{path}: 'tenants' is empty")

    seen_ids: set[str] = set()
    owners: dict[tuple[str, str], str] = {}
    for tenant in tenants:
        if tenant.id in seen_ids:
            raise ConfigError(f"{path}: tenant {tenant.id!r}, field 'id': duplicate tenant id")
        seen_ids.add(tenant.id)
        keys = [("meta_ad_accounts", a) for a in tenant.meta_ad_accounts]
        keys += [("instagram_accounts", a) for a in tenant.instagram_accounts]
        if tenant.chatwoot:
            keys += [("chatwoot.inbox_ids", f"{tenant.chatwoot.account_id}/{i}") for i in tenant.chatwoot.inbox_ids]
        for kind, account in keys:
            other = owners.setdefault((kind, account), tenant.id)
            if other != tenant.id:
                raise ConfigError(f"{path}: tenant {tenant.id!r}, field '{kind}': {account!r} "
                                  f"already belongs to tenant {other!r}")
    for tenant in tenants:
        if tenant.chatwoot and not tenant.chatwoot.inbox_ids:
            shared = [t.id for t in tenants if t is not tenant and t.chatwoot
                      and t.chatwoot.account_id == tenant.chatwoot.account_id]
            if shared:
                raise ConfigError(f"{path}: tenant {tenant.id!r}, field 'chatwoot.inbox_ids': required because "
                                  f"Chatwoot account {tenant.chatwoot.account_id} is shared with {shared}")
    return Tenants(tuple(tenants), path)


def load_tenants(path: Path) -> Tenants:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"tenants file {path}: cannot be read ({exc.strerror})") from None
    return parse_tenants(text, Path(path))
