"""fastjsonschema's validator of the policy schema, generated once rather than at each run.

`egress.load` asks fastjsonschema whether a document is valid (jsonschema then lists the
errors of an invalid one). `fastjsonschema.compile` of the schema took 0.045 s at every
run (it writes ~185 KB of Python, then compiles it), and importing fastjsonschema 4 ms
more: a quarter of what a small policy's `egress validate` costs, which a pre-commit hook
runs on every commit (issue 15).

So the code is generated once, by `python -m egress.fastschema`, and kept in the
package as `egress/schemacode.py`, installed and byte-compiled like any module: using it
costs about 2 ms. A cache written at first run under the user's cache folder would save
the same, but that file would be code run by every `egress`, safe only as long as its
ownership, mode and path checks are right; here nothing is written at run time, nothing
outside the package is trusted, and a read-only install is as fast.

A stale file cannot change what is valid: `schemacode.SCHEMA` holds the keywords it was
generated from, compared with the schema file at each run (0.1 ms); after an edit of the
schema that changed them, the schema is compiled as before until the file is
regenerated, and tests/test_schemacode.py fails until it is.

What is compiled is the schema without its annotations (`description`, `$comment`,
`title`, `examples`): they do not validate, fastjsonschema copies them into every error
it can raise (the errors are thrown away: jsonschema words them), and without them the
code is half as long; an annotation-only edit of the schema needs no regeneration.
`default`s stay: the validator fills them into the document, as it always has. The
generated code raises `Refused`, defined in it instead of imported from fastjsonschema,
so that a valid policy never imports fastjsonschema at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from egress import schemacode
from egress.schemacode import JsonSchemaValueException as Refused

GENERATED = Path(__file__).parent / "schemacode.py"
ANNOTATIONS = ("description", "$comment", "title", "examples")
_SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
"""Keywords whose value maps names (data) to schemas."""

_FASTJSONSCHEMA_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
_OWN_EXCEPTION = '''

class JsonSchemaValueException(ValueError):
    """A document the schema refuses (fastjsonschema's class of that name, defined here
    so that validating does not import fastjsonschema)."""

    def __init__(self, message, value=None, name=None, definition=None, rule=None):
        super().__init__(message)
        self.message, self.value, self.name, self.definition, self.rule = message, value, name, definition, rule


JsonSchemaValuesException = JsonSchemaValueException  # raised only by code generated without fast_fail
'''


def validator(schema: dict) -> Callable[[object], object]:
    """A function that fills the `default`s into a document and raises `Refused` if the
    schema refuses it: the generated one if it is current, else the schema compiled."""
    keywords = validation_keywords(schema)
    if keywords == schemacode.SCHEMA:
        return schemacode.validate
    return _compiled(keywords)


def _compiled(keywords: dict) -> Callable[[object], object]:
    import fastjsonschema

    compiled = fastjsonschema.compile(keywords)

    def validate(doc):
        try:
            return compiled(doc)
        except fastjsonschema.JsonSchemaException as err:
            raise Refused(str(err)) from None

    return validate


def validation_keywords(node):
    """A schema without its annotations. Property names, `$defs` names and the values
    of `enum`, `const` and `default` are data, kept as they are."""
    if isinstance(node, list):
        return [validation_keywords(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ANNOTATIONS:
            continue
        if key in _SCHEMA_MAPS:
            out[key] = {name: validation_keywords(item) for name, item in value.items()}
        elif key in ("enum", "const", "default"):
            out[key] = value
        else:
            out[key] = validation_keywords(value)
    return out


def generated_code(schema: dict) -> str:
    """The text of `egress/schemacode.py` for `schema`: fastjsonschema's code for its
    validation keywords, those keywords (`SCHEMA`), and `validate`."""
    import pprint

    import fastjsonschema

    code = fastjsonschema.compile_to_code(validation_keywords(schema))  # it rewrites the `$ref`s it is given
    entry = re.search(r"^def (validate_\w+)\(", code, re.MULTILINE)
    if entry is None or _FASTJSONSCHEMA_IMPORT not in code:
        raise RuntimeError(f"fastjsonschema {fastjsonschema.VERSION} writes code of another shape: update egress/fastschema.py")
    return (
        '"""fastjsonschema\'s validator of egress/schemas/policy-v1.schema.json. GENERATED: do not edit.\n\n'
        "Regenerate it with `python -m egress.fastschema` after changing the schema's validation\n"
        "keywords (tests/test_schemacode.py says when); egress.fastschema says why it exists.\n"
        '"""\n'
        "# ruff: noqa\n# mypy: ignore-errors\n\n"
        f"SCHEMA = {pprint.pformat(validation_keywords(schema), width=120, sort_dicts=False)}\n\n"
        f"{code.replace(_FASTJSONSCHEMA_IMPORT, _OWN_EXCEPTION).rstrip()}\n\n\nvalidate = {entry.group(1)}\n"
    )


def main() -> None:
    """Rewrite `egress/schemacode.py` from the schema file."""
    from egress.atomic import write_atomically
    from egress.load import _schema

    write_atomically(GENERATED, generated_code(_schema()))
    print(f"wrote {GENERATED}")


if __name__ == "__main__":
    main()
