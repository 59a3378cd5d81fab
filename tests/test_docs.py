"""The documentation that can drift from the code is checked against it here.

- docs/policy-language.md against schemas/policy-v1.schema.json: every key the schema
  allows has a row in the reference tables, every row is a key of the schema, and a
  key's default or required-ness in the schema is the one the row gives;
- docs/architecture.md against egress/: every module is described.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "policy-v1.schema.json").read_text(encoding="utf-8"))
LANGUAGE = (ROOT / "docs" / "policy-language.md").read_text(encoding="utf-8")
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _deref(node: dict) -> dict:
    """A schema node with its `$ref` (into `$defs`) merged under its own keys."""
    while "$ref" in node:
        target = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_keys(node: dict = SCHEMA, prefix: str = "") -> dict[str, tuple[dict, bool]]:
    """Every key the schema allows, as a path (`zones.NAME.addresses`,
    `stages[].grants[].via`) -> (its schema node, whether it is required)."""
    node = _deref(node)
    out: dict[str, tuple[dict, bool]] = {}
    required = set(node.get("required", ()))
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out[path] = (_deref(child), key in required)
        out.update(schema_keys(child, path))
    if isinstance(node.get("additionalProperties"), dict):
        out.update(schema_keys(node["additionalProperties"], f"{prefix}.NAME"))
    if isinstance(node.get("items"), dict):
        out.update(schema_keys(node["items"], f"{prefix}[]"))
    return out


def documented_rows() -> dict[str, list[str]]:
    """The rows of the reference tables of the language page: key path -> cells."""
    rows = {}
    for line in LANGUAGE.splitlines():
        match = re.match(r"\| `([a-z_][a-zA-Z_.\[\]]*)` \|(.*)\|\s*$", line)
        if match and (match.group(1) in SCHEMA["properties"] or "." in match.group(1) or "[]" in match.group(1)):
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def test_the_walk_sees_keys_at_every_depth():
    keys = schema_keys()
    for path in ("egress", "zones.NAME.addresses", "services.NAME.destinations[].host", "proxy.tls",
                 "stages[].revoke", "stages[].grants[].expires"):
        assert path in keys, path
    assert keys["egress"][1] and not keys["proxy"][1]


def test_every_schema_key_is_documented_and_every_documented_key_exists():
    keys, rows = set(schema_keys()), set(documented_rows())
    assert keys - rows == set(), "keys of the schema missing from docs/policy-language.md"
    assert rows - keys == set(), "keys in docs/policy-language.md that the schema does not have"


def test_defaults_and_required_keys_agree_with_the_schema():
    rows = documented_rows()
    for path, (node, required) in schema_keys().items():
        meaning, default, constraints, example = rows[path]
        assert meaning and constraints is not None and example, path
        if required:
            assert default == "required", (path, default)
        else:
            assert default != "required", (path, default)
        if "default" in node:
            assert default == f"`{node['default']}`", (path, default, node["default"])
        if "enum" in node:
            for value in node["enum"]:
                assert f"`{value}`" in constraints, (path, value)


def test_every_module_of_egress_is_in_the_architecture_page():
    """Each module of egress/ and each package (`targets/`, `firewall/`...) has its
    paragraph; a package's own modules are described by its docstring."""
    package = ROOT / "egress"
    entries = [p.name for p in package.glob("*.py")] + [f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").exists()]
    missing = [name for name in sorted(entries) if f"`{name}`" not in ARCHITECTURE]
    assert not missing, f"modules not described in docs/architecture.md: {missing}"


def test_docs_link_each_other_and_the_readme_links_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    policies = (ROOT / "policies" / "README.md").read_text(encoding="utf-8")
    for text in (readme, policies):
        assert "docs/policy-language.md" in text
    assert "docs/architecture.md" in readme
    assert "DESIGN.md" not in readme, "DESIGN.md is not in the repository: point at docs/ instead"
