"""Bad input, tenants.yaml (issue 11, build 5): generated files, valid and hostile.

A valid file parses into exactly the tenants it describes (emoji and right-to-left names
included). A file with one hostile field (an injection-shaped or path-like id, a wrong
type, a number YAML 1.1 would reinterpret, a duplicate key, an anchor or alias, a tag, deep
nesting, a control character) is refused with a ConfigError naming the file, the tenant and
the field: never another exception, never accepted. Huge and non-UTF-8 files likewise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.bad_input_budget import examples
from vetorial_assets.settings import ConfigError
from vetorial_assets.tenants import MAX_BIGINT, MAX_FILE_BYTES, ChatwootScope, Tenant, load_tenants, parse_tenants

PATH = Path("/srv/vetorial/tenants.yaml")

# ----------------------------------------------------------------------------- valid files

tenant_ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)
# Names as people write them: any letters, marks, numbers, punctuation, symbols and spaces
# (emoji, Arabic and Hebrew included); no control characters, surrogates, or the line and
# paragraph separators YAML folds inside quotes.
name_chars = st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
names = st.text(name_chars, min_size=1, max_size=200).filter(lambda s: s.strip() != "")
RTL_NAME = "עברית ومرحبا 😀 Ação"
env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,40}", fullmatch=True)
digits = st.from_regex(r"[0-9]{1,20}", fullmatch=True)
chatwoot_ids = st.integers(1, MAX_BIGINT)


@st.composite
def tenant_models(draw, index: int, used: set) -> Tenant:
    def fresh(strategy, kind):
        value = draw(strategy.filter(lambda v: (kind, v) not in used))
        used.add((kind, value))
        return value

    tid = fresh(tenant_ids, "id")
    ads = tuple(fresh(digits.map(lambda d: f"act_{d}"), "ad") for _ in range(draw(st.integers(0, 3))))
    igs = tuple(fresh(digits, "ig") for _ in range(draw(st.integers(0, 3))))
    chatwoot = None
    if draw(st.booleans()):
        # Each tenant its own Chatwoot account: a shared one needs inbox ids (tested in test_tenants).
        account = fresh(chatwoot_ids, "cw")
        inboxes = tuple(draw(st.lists(chatwoot_ids, max_size=3, unique=True)))
        chatwoot = ChatwootScope(account, inboxes)
    name = draw(st.one_of(st.none(), names, st.just(RTL_NAME)))
    token_env = draw(st.one_of(st.none(), env_names))
    return (
        Tenant(
            id=tid,
            name=name if name is not None else tid,
            meta_ad_accounts=ads,
            instagram_accounts=igs,
            chatwoot=chatwoot,
            meta_token_env=token_env or "META_ACCESS_TOKEN",
        ),
        name,
        token_env,
    )


@st.composite
def documents(draw):
    used: set = set()
    n = draw(st.integers(1, 4))
    return [draw(tenant_models(i, used)) for i in range(n)]


def _q(value) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def _fields(tenant: Tenant, name, token_env) -> dict[str, str]:
    """field -> its YAML text (the value part), in file order."""
    out = {"id": _q(tenant.id)}
    if name is not None:
        out["name"] = _q(name)
    if tenant.meta_ad_accounts or tenant.id.startswith("a"):  # sometimes written out empty
        out["meta_ad_accounts"] = "[" + ", ".join(map(_q, tenant.meta_ad_accounts)) + "]"
    if tenant.instagram_accounts:
        out["instagram_accounts"] = "[" + ", ".join(map(_q, tenant.instagram_accounts)) + "]"
    if tenant.chatwoot is not None:
        inboxes = ", ".join(map(str, tenant.chatwoot.inbox_ids))
        out["chatwoot"] = f"{{account_id: {tenant.chatwoot.account_id}, inbox_ids: [{inboxes}]}}"
    if token_env is not None:
        out["meta_token_env"] = _q(token_env)
    return out


def _render(tenants_fields: list[dict[str, str]]) -> str:
    lines = ["# generated", "tenants:"]
    for fields in tenants_fields:
        first = True
        for key, value in fields.items():
            lines.append(f"  {'- ' if first else '  '}{key}: {value}")
            first = False
    return "\n".join(lines) + "\n"


@settings(max_examples=examples(150), deadline=None)
@given(documents())
def test_a_valid_file_parses_into_exactly_its_tenants(doc):
    text = _render([_fields(*t) for t in doc])
    parsed = parse_tenants(text, PATH)
    assert parsed.tenants == tuple(t for t, _name, _env in doc)


# ----------------------------------------------------------------------------- hostile fields

INJECTION = [
    "a'; DROP TABLE x;--",
    'x"; DELETE FROM ops.etl_control; --',
    "1 OR 1=1",
    "$(rm -rf /)",
    "`id`",
    "a\nb",
    "abc\n",
    "../../etc/passwd",
    "..",
    "/etc/passwd",
    "C:\\Windows\\system32",
    "a/b",
    "a%2F..",
    "act_1/../act_2",
    "act_1\n",
    "act_1;drop",
    " act_1",
    "ação",
    "😀",
    "\u202eevil",
    "a\u0000b",
    "",
]
PATHS = ["../../etc/passwd", "/etc/shadow", "~/.ssh/id_rsa", "file:///etc/passwd", "\\\\server\\share"]


def _hostile_scalar() -> st.SearchStrategy[str]:
    """YAML text of a value no id-like field accepts: injection- or path-shaped strings,
    numbers YAML 1.1 would reinterpret, huge numbers, wrong types."""
    return st.one_of(
        st.sampled_from(INJECTION + PATHS).map(_q),
        st.sampled_from(
            [
                "1:30",
                "0x1F",
                "1e3",
                "-5",
                "3.5",
                ".inf",
                ".nan",
                "true",
                "no",
                "~",
                "null",
                "[]",
                "{}",
                "[[1]]",
                "{a: 1}",
            ]
        ),
        # Past bigint, and past Python's int() digit limit (as text: not a tenant id either).
        st.integers(25, 5000).filter(lambda n: n <= 30 or n > 63).map(lambda n: "9" * n),
        st.integers(64, 400).map(lambda n: _q("1" * n)),
    )


# Valid tenant ids (and names), but no account or Chatwoot id: YAML 1.1 numbers, dates.
NOT_IDS = ["0o17", "1_000", "2024-13-45", "2024-01-02", "0b101"]


# Per field: (YAML text of a hostile value, the field the error must name).
def _hostile_values(field: str, tenant: Tenant) -> st.SearchStrategy[tuple[str, str]]:
    tagged = st.sampled_from(
        [
            "!!int abc",
            "!!float x",
            "!!timestamp x",
            "!!binary '%%%'",
            "!!set {a, b}",
            "!!python/object:os.system {}",
            "!custom x",
            "!!str a",
        ]
    )
    anchored = st.sampled_from(["&x a", "&x [a]", "&x {a: 1}"])
    nested = st.integers(17, 3000).map(lambda n: "[" * n + "]" * n)
    nested_map = st.integers(17, 500).map(lambda n: "{a: " * n + "1" + "}" * n)
    structural = st.one_of(tagged, anchored, nested, nested_map)
    if field == "id":
        return st.one_of(
            _hostile_scalar(),
            st.integers(64, 300).map(lambda n: "a" * n),
            structural,
            st.sampled_from(["A", "Abc", "a b", "a.b", "-a", "_a"]).map(_q),
        ).map(lambda v: (v, "id"))
    if field == "name":
        bad = st.one_of(
            st.sampled_from(["[A, B]", "{first: A}", "12", "true", "[]", "''", "'   '", "~"]).filter(
                lambda v: v != "~"
            ),
            st.integers(201, 5000).map(lambda n: _q("x" * n)),
            st.sampled_from(["\\0", "\\x1b[31m", "\\ud800", "\\udfff", "\\a", "\\x7f", "\\x85"]).map(
                lambda esc: f'"ok{esc}ok"'
            ),
            structural,
        )
        return bad.map(lambda v: (v, "name"))
    if field in ("meta_ad_accounts", "instagram_accounts"):
        items = st.lists(st.one_of(_hostile_scalar(), st.sampled_from(NOT_IDS)), min_size=1, max_size=3).map(
            lambda xs: "[" + ", ".join(xs) + "]"
        )
        wrong = st.sampled_from(["act_1", "0", "''", "{a: 1}", "true"])
        existing = (
            [f"[{_q(tenant.meta_ad_accounts[0])}, {_q(tenant.meta_ad_accounts[0])}]"]
            if field == "meta_ad_accounts" and tenant.meta_ad_accounts
            else ["[act_1, act_1]"]
        )
        duplicate = st.just(existing[0] if field == "meta_ad_accounts" else "['17', '17']")
        return st.one_of(items, wrong, duplicate, structural).map(lambda v: (v, field))
    if field == "chatwoot.account_id":
        return st.one_of(
            _hostile_scalar(),
            st.sampled_from(NOT_IDS),
            st.integers(MAX_BIGINT + 1, 10**30).map(str),
            st.integers(-(10**30), 0).map(str),
            st.sampled_from(["'7'", "7.0", "1e3"]),
            structural,
        ).map(lambda v: ("{account_id: " + v + "}", field))
    if field == "chatwoot.inbox_ids":
        value = st.one_of(
            st.sampled_from(["0", "''", "false", "{}", "'1,2'", "[0]", "[-1]", "['2']", "[1.5]", "[1:30]", "[true]"]),
            st.lists(_hostile_scalar(), min_size=1, max_size=2).map(lambda xs: "[" + ", ".join(xs) + "]"),
            structural,
        )
        return value.map(lambda v: ("{account_id: 1, inbox_ids: " + v + "}", field))
    if field == "meta_token_env":
        return st.one_of(
            st.sampled_from(["EAAB-pasted-token-value", "lower_case", "A-B", "1ABC", "'A\\nB'", "''", "[A]", "12"]),
            st.sampled_from(INJECTION + PATHS).map(_q),
            structural,
            st.integers(129, 400).map(lambda n: "A" * n),
        ).map(lambda v: (v, field))
    raise AssertionError(field)


FIELDS = [
    "id",
    "name",
    "meta_ad_accounts",
    "instagram_accounts",
    "chatwoot.account_id",
    "chatwoot.inbox_ids",
    "meta_token_env",
]


@st.composite
def hostile_documents(draw):
    doc = draw(documents())
    index = draw(st.integers(0, len(doc) - 1))
    tenant = doc[index][0]
    rendered = [_fields(*t) for t in doc]
    fields = rendered[index]
    kind = draw(st.sampled_from(["field", "duplicate key", "unknown key", "inline secret"]))
    if kind == "field":
        field = draw(st.sampled_from(FIELDS))
        value, named = draw(_hostile_values(field, tenant))
        key = field.split(".")[0]
        if key == "chatwoot":
            fields["chatwoot"] = value
        else:
            fields[key] = value
        # Moved to the end, so the tenant's id precedes it (as in a hand-written file).
        fields[key] = fields.pop(key) if key != "id" else fields[key]
    elif kind == "duplicate key":
        named = draw(st.sampled_from(["id", "name", "meta_ad_accounts", "chatwoot"]))
        fields = {**fields, named: fields.get(named, _q("x") if named != "chatwoot" else "{account_id: 1}")}
        text_fields = list(fields.items()) + [(named, _q("again"))]
        rendered[index] = dict(text_fields[:-1])
        rendered[index][named + " "] = text_fields[-1][1]  # the same key a second time (trailing space)
    elif kind == "unknown key":
        named = draw(st.sampled_from(["colour", "Name", "ids", "../x", "'; DROP TABLE t;--", "tenants"]))
        fields[_q(named)] = _q("x")
    else:
        named = draw(st.sampled_from(["token", "access_token", "password", "secret"]))
        fields[named] = _q("EAAB-not-for-a-file")
    rendered[index] = rendered[index] if kind == "duplicate key" else fields
    label = f"tenants[{index}]" if named == "id" and kind == "field" else f"tenant {tenant.id!r}"
    return _render(rendered), label, named


def _refused(text: str) -> ConfigError:
    try:
        parsed = parse_tenants(text, PATH)
    except ConfigError as error:
        return error
    raise AssertionError(f"accepted: {parsed.tenants}")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_documents())
# Regressions: `$` let a trailing newline through; 0 and "" read as "no inboxes"; PyYAML's
# constructors raised bare ValueError/AttributeError; deep nesting raised RecursionError;
# YAML 1.1 read `1:30` as the id 90; NUL in a name was accepted.
@example(('tenants:\n  - id: "abc\\n"\n', "tenants[0]", "id"))
@example(('tenants:\n  - id: a\n    meta_ad_accounts: ["act_1\\n"]\n', "tenant 'a'", "meta_ad_accounts"))
@example(('tenants:\n  - id: a\n    meta_token_env: "FOO\\n"\n', "tenant 'a'", "meta_token_env"))
@example(("tenants:\n  - id: a\n    chatwoot: {account_id: 1, inbox_ids: 0}\n", "tenant 'a'", "chatwoot.inbox_ids"))
@example(("tenants:\n  - id: a\n    name: !!int abc\n", "tenant 'a'", "name"))
@example(("tenants:\n  - id: a\n    name: !!timestamp x\n", "tenant 'a'", "name"))
@example(("tenants:\n  - id: a\n    chatwoot: {account_id: " + "9" * 5000 + "}\n", "tenant 'a'", "chatwoot.account_id"))
@example(("tenants:\n  - id: a\n    name: " + "[" * 5000 + "]" * 5000 + "\n", "tenant 'a'", "name"))
@example(("tenants:\n  - id: a\n    chatwoot: {account_id: 1:30}\n", "tenant 'a'", "chatwoot.account_id"))
@example(('tenants:\n  - id: a\n    name: "x\\0y"\n', "tenant 'a'", "name"))
@example(('tenants:\n  - id: a\n    name: "x\\ud800y"\n', "tenant 'a'", "name"))
@example(("tenants:\n  - id: a\n    <<: {name: b}\n", "tenant 'a'", "<<"))
def test_a_hostile_field_is_refused_naming_file_tenant_and_field(case):
    text, label, field = case
    error = str(_refused(text))
    assert error.startswith(f"{PATH}: "), error
    assert label in error, error
    assert f"field '{field}" in error or f"field {field!r}" in error or f"field {json.dumps(field)}" in error, error
    assert len(error) < 600  # a megabyte-long value is never echoed whole
    assert "EAAB-not-for-a-file" not in error and "EAAB-pasted-token-value" not in error


@settings(max_examples=examples(60), deadline=None)
@given(st.binary(min_size=1, max_size=64).filter(lambda b: _not_utf8(b)), st.integers(0, 40))
def test_bytes_that_are_not_utf8_are_refused_naming_the_byte(tmp_path_factory, junk, at):
    good = b"tenants:\n  - id: a\n    name: ok\n"
    path = tmp_path_factory.mktemp("t") / "tenants.yaml"
    data = good[:at] + junk + good[at:]
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=rf"{path}: not UTF-8 text \(byte \d+\)"):
        load_tenants(path)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.parametrize("padding", ["# x\n", "    name: " + "y" * 80 + "\n"])
def test_a_file_past_the_limit_is_refused_without_being_parsed(tmp_path, padding):
    path = tmp_path / "tenants.yaml"
    body = "tenants:\n  - id: a\n" + padding * (MAX_FILE_BYTES // len(padding) + 1)
    path.write_text(body)
    with pytest.raises(ConfigError, match=r"may be at most 1,000,000 bytes"):
        load_tenants(path)


def test_yaml_implicit_dates_and_numbers_stay_what_was_written():
    # A date-looking name is the text written; `1:30` is no number (YAML 1.1 would say 90).
    doc = parse_tenants("tenants:\n  - id: a\n    name: 2024-13-45\n  - id: b\n    name: 1:30\n", PATH)
    assert [t.name for t in doc.tenants] == ["2024-13-45", "1:30"]
    with pytest.raises(ConfigError, match=r"tenant 'a', field 'chatwoot.account_id': must be a positive whole.*'0x1F'"):
        parse_tenants("tenants:\n  - id: a\n    chatwoot: {account_id: 0x1F}\n", PATH)
