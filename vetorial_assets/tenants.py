"""tenants.yaml: which ad accounts, Instagram accounts and Chatwoot inboxes belong to whom.

Validated completely at load time (before any run): every problem is reported with the
file, the tenant and the field, and tokens are only ever referenced by env var *name*.

The file is read strictly: at most MAX_FILE_BYTES, no duplicate keys (YAML's default keeps
the last one: a second `tenants:` would silently drop the first list), no anchors or
aliases (a few hundred bytes of nested aliases expand to gigabytes once a value is used),
no explicit tags (`!!int abc`, `!!timestamp x` fail inside PyYAML with bare exceptions),
at most MAX_DEPTH levels of nesting (PyYAML composes recursively), and only plain decimal
integers of at most 30 digits are numbers: YAML 1.1 would read `1:30` as 90, `1_000` as
1000 and a 5,000-digit number as a ValueError; dates stay text (`2024-13-45` is no date).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .settings import ConfigError

MAX_FILE_BYTES = 1_000_000
MAX_NAME_CHARS = 200
# Levels of nesting a tenants file needs: document, tenants, tenant, chatwoot, inbox_ids, id.
MAX_DEPTH = 16
# Chatwoot ids are bigint columns.
MAX_BIGINT = 2**63 - 1

# Used with fullmatch: `$` would also match before a trailing newline ("abc\n" was a valid id).
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
# A tenant id is a Dagster partition key and a warehouse value: short, no separators.
_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Graph object ids are 64-bit numbers: at most 20 digits.
_AD_ACCOUNT = re.compile(r"act_[0-9]{1,20}")
_NUMERIC_ID = re.compile(r"[0-9]{1,20}")
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


def _show(value, limit: int = 60) -> str:
    """A value for an error message, cut short: a hostile file may hold megabytes in one field."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class _Rejected(Exception):
    def __init__(self, line: int, where: str, message: str):
        super().__init__(message)
        self.line, self.where, self.message = line, where, message


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing duplicate keys and anchors/aliases while composing.

    Chosen over a stricter library (ruamel.yaml, strictyaml): PyYAML is already installed
    (Dagster needs it), and the two rules are two small composer hooks; ruamel.yaml would add
    a dependency and still expand aliases. Checking while composing (nodes, before any Python
    object exists) costs nothing and stops an alias bomb at its first anchor. The composer
    tracks where it is (keys and sequence positions) so errors name the tenant and field.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self._stack: list[tuple[object, object]] = []  # (parent node, key node or index) per level

    def compose_node(self, parent, index):
        event = self.peek_event()
        self._stack.append((parent, index))
        try:
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise self._rejected(
                    event.start_mark,
                    "YAML anchors and aliases (&name, *name) are not allowed in a tenants file; write each value out",
                )
            if getattr(event, "tag", None) is not None:
                raise self._rejected(
                    event.start_mark,
                    f"YAML tags ({_show(event.tag)}) are not allowed in a tenants file; write plain values",
                )
            if len(self._stack) > MAX_DEPTH:
                raise self._rejected(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._stack.pop()

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_line: dict[str, int] = {}
        for key, _value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in first_line:
                    raise self._rejected(
                        key.start_mark,
                        f"duplicate key (first at line {first_line[key.value]}); YAML would keep only the last one",
                        (node, key.value),
                    )
                first_line[key.value] = key.start_mark.line + 1
        return node

    def _rejected(self, mark, message: str, last: tuple[object, str] | None = None) -> _Rejected:
        # The path to the offending node: mapping keys and sequence positions, with the node
        # holding each step (a tenant's mapping holds its id).
        steps: list[tuple[object, str | int]] = []
        for parent, index in self._stack:
            if isinstance(index, yaml.ScalarNode):
                steps.append((parent, index.value))
            elif isinstance(index, int):
                steps.append((parent, index))
        if last is not None:
            steps.append(last)
        return _Rejected(mark.line + 1, _where(steps), message)


# Implicit types: PyYAML's, except that integers are plain decimal numbers of at most 30
# digits (not YAML 1.1's sexagesimal `1:30`, `0x1F`, `1_000`, nor a 5,000-digit number that
# int() refuses), timestamps are not resolved (a date-looking value stays text), and `<<`
# is an ordinary key (a merge key is a hidden duplicate), so an unknown key.
_DROPPED_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"}
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]{1,30}$"), list("-+0123456789"))


def _where(steps: list[tuple[object, str | int]]) -> str:
    """ "tenant 'a', field 'chatwoot.account_id'" (or "field 'tenants'") for a path in the file."""
    names = [step for _node, step in steps]
    if len(names) >= 2 and names[0] == "tenants" and isinstance(names[1], int):
        tenant_node = steps[2][0] if len(steps) > 2 else None
        tenant_id = None
        if isinstance(tenant_node, yaml.MappingNode):
            tenant_id = next(
                (
                    v.value
                    for k, v in tenant_node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == "id" and isinstance(v, yaml.ScalarNode)
                ),
                None,
            )
        label = (
            f"tenant {tenant_id!r}"
            if isinstance(tenant_id, str) and _TENANT_ID.fullmatch(tenant_id)
            else f"tenants[{names[1]}]"
        )
        field_names = [str(n) for n in names[2:]]
        return f"{label}, field {_show('.'.join(field_names))}" if field_names else label
    return f"field {_show('.'.join(str(n) for n in names))}" if names else "document"


def _load_yaml(text: str, path: Path):
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Rejected as exc:
        raise ConfigError(f"{path}: line {exc.line}: {exc.where}: {exc.message}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except (ValueError, TypeError, ArithmeticError, AttributeError, RecursionError) as exc:
        # What the rules above leave to PyYAML's constructors should never fail there; if
        # it does, it is still this file's fault, not a crash.
        raise ConfigError(f"{path}: a value could not be read ({type(exc).__name__}: {_show(str(exc), 120)})") from None
    finally:
        loader.dispose()


def _id_list(path: Path, where: str, value, pattern: re.Pattern, example: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(path, where, f"must be a list, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int)) or not pattern.fullmatch(str(item)):
            raise _fail(path, where, f"{_show(item)} is not a valid id (expected something like {example})")
        text = str(item)
        out.append(text)
    if len(set(out)) != len(out):
        raise _fail(path, where, "lists the same account twice")
    return tuple(out)


def _chatwoot_id(path: Path, where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BIGINT:
        raise _fail(
            path, where, f"must be a positive whole number of at most {MAX_BIGINT} (a Chatwoot id), got {_show(value)}"
        )
    return value


def _name(path: Path, where: str, value, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise _fail(path, where, f"must be a string, got {type(value).__name__}")
    if not value.strip() or len(value) > MAX_NAME_CHARS:
        raise _fail(path, where, f"must be 1 to {MAX_NAME_CHARS} characters, got {len(value)}")
    for position, char in enumerate(value):
        # Control characters (NUL, escapes) and unpaired surrogates ("\ud800" in a quoted
        # YAML string) cannot be logged or stored as text; emoji and right-to-left text can.
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise _fail(
                path, where, f"holds the control character or unpaired surrogate {char!r} at character {position}"
            )
    return value


def _parse_tenant(path: Path, index: int, raw) -> Tenant:
    if not isinstance(raw, dict):
        raise _fail(path, f"tenants[{index}]", "must be a mapping")
    raw_id = raw.get("id")
    label = f"tenant {raw_id!r}" if isinstance(raw_id, str) and _TENANT_ID.fullmatch(raw_id) else f"tenants[{index}]"
    for key in raw:
        if key in _INLINE_SECRET_KEYS:
            raise _fail(
                path,
                f"{label}, field '{key}'",
                "tokens must not be written in the file; put the env var name in 'meta_token_env'",
            )
        if key not in _TENANT_KEYS:
            raise _fail(
                path, f"{label}, field {_show(key)}", f"unknown key (allowed: {', '.join(sorted(_TENANT_KEYS))})"
            )
    tenant_id = raw.get("id")
    if not isinstance(tenant_id, str) or not _TENANT_ID.fullmatch(tenant_id):
        raise _fail(
            path,
            f"{label}, field 'id'",
            "required; 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        )
    token_env = raw.get("meta_token_env", "META_ACCESS_TOKEN")
    if not isinstance(token_env, str) or not _ENV_NAME.fullmatch(token_env):
        # Do not echo the value: it may be a pasted token.
        raise _fail(
            path,
            f"{label}, field 'meta_token_env'",
            "must be the NAME of an env var (like META_TOKEN_ALLPFIT), not a token",
        )
    chatwoot = None
    if raw.get("chatwoot") is not None:
        cw = raw["chatwoot"]
        if not isinstance(cw, dict):
            raise _fail(path, f"{label}, field 'chatwoot'", "must be a mapping with account_id and inbox_ids")
        for key in cw:
            if key not in _CHATWOOT_KEYS:
                raise _fail(
                    path, f"{label}, field {_show(f'chatwoot.{key}')}", "unknown key (allowed: account_id, inbox_ids)"
                )
        if "account_id" not in cw:
            raise _fail(path, f"{label}, field 'chatwoot.account_id'", "required")
        inboxes = cw.get("inbox_ids")
        inboxes = [] if inboxes is None else inboxes  # `0` or `""` is no empty list
        if not isinstance(inboxes, list):
            raise _fail(path, f"{label}, field 'chatwoot.inbox_ids'", "must be a list of numbers")
        chatwoot = ChatwootScope(
            account_id=_chatwoot_id(path, f"{label}, field 'chatwoot.account_id'", cw["account_id"]),
            inbox_ids=tuple(_chatwoot_id(path, f"{label}, field 'chatwoot.inbox_ids'", i) for i in inboxes),
        )
    return Tenant(
        id=tenant_id,
        name=_name(path, f"{label}, field 'name'", raw.get("name"), tenant_id),
        meta_ad_accounts=_id_list(
            path, f"{label}, field 'meta_ad_accounts'", raw.get("meta_ad_accounts"), _AD_ACCOUNT, "act_1234567890"
        ),
        instagram_accounts=_id_list(
            path,
            f"{label}, field 'instagram_accounts'",
            raw.get("instagram_accounts"),
            _NUMERIC_ID,
            "17841400000000000",
        ),
        chatwoot=chatwoot,
        meta_token_env=token_env,
    )


def _too_big(path: Path, size: int) -> ConfigError:
    return ConfigError(f"{path}: the file is {size:,} bytes; a tenants file may be at most {MAX_FILE_BYTES:,} bytes")


def parse_tenants(text: str, path: Path) -> Tenants:
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise _too_big(path, size)
    doc = _load_yaml(text, path)
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
                raise ConfigError(
                    f"{path}: tenant {tenant.id!r}, field '{kind}': {account!r} already belongs to tenant {other!r}"
                )
    for tenant in tenants:
        if tenant.chatwoot and not tenant.chatwoot.inbox_ids:
            shared = [
                t.id
                for t in tenants
                if t is not tenant and t.chatwoot and t.chatwoot.account_id == tenant.chatwoot.account_id
            ]
            if shared:
                raise ConfigError(
                    f"{path}: tenant {tenant.id!r}, field 'chatwoot.inbox_ids': required because "
                    f"Chatwoot account {tenant.chatwoot.account_id} is shared with {shared}"
                )
    return Tenants(tuple(tenants), path)


def load_tenants(path: Path) -> Tenants:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # never more than the limit into memory
            if len(data) > MAX_FILE_BYTES:
                raise _too_big(Path(path), os.fstat(handle.fileno()).st_size)
    except OSError as exc:
        raise ConfigError(f"tenants file {path}: cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_tenants(text, Path(path))
