"""fastjsonschema's validator of egress/schemas/policy-v1.schema.json. GENERATED: do not edit.

Regenerate it with `python -m egress.fastschema` after changing the schema's validation
keywords (tests/test_schemacode.py says when); egress.fastschema says why it exists.
"""
# ruff: noqa
# mypy: ignore-errors

SCHEMA = {'$schema': 'https://json-schema.org/draft/2020-12/schema',
 '$id': 'https://egress.invalid/schemas/policy-v1.schema.json',
 'type': 'object',
 'additionalProperties': False,
 'required': ['egress', 'policy', 'zones', 'services', 'stages'],
 'properties': {'egress': {'type': 'integer', 'const': 1},
                'policy': {'$ref': '#/$defs/name'},
                'timezone': {'type': 'string',
                             'maxLength': 94,
                             'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'},
                'description': {'$ref': '#/$defs/metaText'},
                'include': {'type': 'array',
                            'uniqueItems': True,
                            'items': {'type': 'string',
                                      'maxLength': 255,
                                      'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}},
                'zones': {'type': 'object',
                          'minProperties': 1,
                          'propertyNames': {'$ref': '#/$defs/name'},
                          'additionalProperties': {'$ref': '#/$defs/zone'}},
                'services': {'type': 'object',
                             'minProperties': 1,
                             'propertyNames': {'$ref': '#/$defs/name'},
                             'additionalProperties': {'$ref': '#/$defs/service'}},
                'proxy': {'type': 'object',
                          'additionalProperties': False,
                          'required': ['zone', 'port'],
                          'properties': {'zone': {'$ref': '#/$defs/name'},
                                         'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535},
                                         'tls': {'enum': ['none', 'peek'], 'default': 'none'}}},
                'firewall': {'type': 'object',
                             'additionalProperties': False,
                             'properties': {'hook': {'enum': ['forward', 'output'], 'default': 'forward'},
                                            'log_group': {'type': 'integer', 'minimum': 0, 'maximum': 65535},
                                            'mark_mask': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295}}},
                'stages': {'type': 'array', 'minItems': 1, 'items': {'$ref': '#/$defs/stage'}}},
 '$defs': {'name': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'},
           'nameOrList': {'type': ['string', 'array'],
                          'maxLength': 63,
                          'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)',
                          'minItems': 1,
                          'items': {'$ref': '#/$defs/name'}},
           'metaText': {'type': 'string',
                        'maxLength': 200,
                        'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'},
           'date': {'type': 'string',
                    'format': 'date',
                    'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'},
           'instant': {'type': 'string',
                       'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt '
                                  '](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? '
                                  '?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'},
           'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'},
           'host': {'type': 'string',
                    'maxLength': 253,
                    'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'},
           'domain': {'type': 'string',
                      'maxLength': 253,
                      'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'},
           'port': {'type': 'string',
                    'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'},
           'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': '#/$defs/port'}},
           'zone': {'type': 'object',
                    'additionalProperties': False,
                    'required': ['addresses'],
                    'properties': {'description': {'$ref': '#/$defs/metaText'},
                                   'addresses': {'type': 'array',
                                                 'minItems': 1,
                                                 'items': {'$ref': '#/$defs/address'}}}},
           'service': {'type': 'object',
                       'additionalProperties': False,
                       'required': ['destinations', 'ports'],
                       'properties': {'description': {'$ref': '#/$defs/metaText'},
                                      'owner': {'$ref': '#/$defs/metaText'},
                                      'destinations': {'type': 'array',
                                                       'minItems': 1,
                                                       'items': {'$ref': '#/$defs/destination'}},
                                      'ports': {'$ref': '#/$defs/ports'}}},
           'destination': {'type': 'object',
                           'minProperties': 1,
                           'maxProperties': 1,
                           'additionalProperties': False,
                           'properties': {'domain': {'$ref': '#/$defs/domain'},
                                          'host': {'$ref': '#/$defs/host'},
                                          'address': {'$ref': '#/$defs/address'}}},
           'stage': {'type': 'object',
                     'additionalProperties': False,
                     'required': ['id', 'grants'],
                     'properties': {'id': {'$ref': '#/$defs/name'},
                                    'title': {'$ref': '#/$defs/metaText'},
                                    'date': {'$ref': '#/$defs/date'},
                                    'grants': {'type': 'array', 'items': {'$ref': '#/$defs/grant'}},
                                    'revoke': {'type': 'array', 'items': {'$ref': '#/$defs/name'}}}},
           'grant': {'type': 'object',
                     'additionalProperties': False,
                     'required': ['id', 'from', 'to'],
                     'properties': {'id': {'$ref': '#/$defs/name'},
                                    'from': {'$ref': '#/$defs/nameOrList'},
                                    'to': {'$ref': '#/$defs/nameOrList'},
                                    'ports': {'$ref': '#/$defs/ports'},
                                    'via': {'enum': ['direct', 'proxy'], 'default': 'direct'},
                                    'reason': {'$ref': '#/$defs/metaText'},
                                    'approved_by': {'$ref': '#/$defs/metaText'},
                                    'requested_by': {'$ref': '#/$defs/metaText'},
                                    'ticket': {'$ref': '#/$defs/metaText'},
                                    'expires': {'$ref': '#/$defs/instant'}}}}}

VERSION = "2.22.3"
from decimal import Decimal
import re


class JsonSchemaValueException(ValueError):
    """A document the schema refuses (fastjsonschema's class of that name, defined here
    so that validating does not import fastjsonschema)."""

    def __init__(self, message, value=None, name=None, definition=None, rule=None):
        super().__init__(message)
        self.message, self.value, self.name, self.definition, self.rule = message, value, name, definition, rule


JsonSchemaValuesException = JsonSchemaValueException  # raised only by code generated without fast_fail


REGEX_PATTERNS = {
    '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)': re.compile('^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}\\Z(?!\\n)'),
    '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)': re.compile('^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml\\Z(?!\\n)'),
    '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)': re.compile('^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?\\Z(?!\\n)'),
    '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)': re.compile('^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)\\Z(?!\\n)'),
    '^[a-z0-9][a-z0-9-]*$(?!\\n)': re.compile('^[a-z0-9][a-z0-9-]*\\Z(?!\\n)'),
    '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)': re.compile('^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])\\Z(?!\\n)'),
    'date_re_pattern': re.compile('^(?:\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))|(?:\\d\\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)\\Z'),
    '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)': re.compile('^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?\\Z(?!\\n)'),
    '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)': re.compile('^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\\Z(?!\\n)'),
    '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)': re.compile('^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*\\Z(?!\\n)')
}

NoneType = type(None)

def validate_https___egress_invalid_schemas_policy_v1_schema_json(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be object", value=data, name="" + (name_prefix or "data") + "", definition={'$schema': 'https://json-schema.org/draft/2020-12/schema', '$id': 'https://egress.invalid/schemas/policy-v1.schema.json', 'type': 'object', 'additionalProperties': False, 'required': ['egress', 'policy', 'zones', 'services', 'stages'], 'properties': {'egress': {'type': 'integer', 'const': 1}, 'policy': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'timezone': {'type': 'string', 'maxLength': 94, 'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'}, 'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'include': {'type': 'array', 'uniqueItems': True, 'items': {'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}}, 'zones': {'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}}, 'services': {'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'owner': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/destination'}}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}}}}, 'proxy': {'type': 'object', 'additionalProperties': False, 'required': ['zone', 'port'], 'properties': {'zone': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535}, 'tls': {'enum': ['none', 'peek'], 'default': 'none'}}}, 'firewall': {'type': 'object', 'additionalProperties': False, 'properties': {'hook': {'enum': ['forward', 'output'], 'default': 'forward'}, 'log_group': {'type': 'integer', 'minimum': 0, 'maximum': 65535}, 'mark_mask': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295}}}, 'stages': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'title': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'date': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/date'}, 'grants': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/grant'}}, 'revoke': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}}}}}, '$defs': {'name': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'nameOrList': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, 'metaText': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'instant': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'port': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}}, 'zone': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}}, 'service': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'owner': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}}}, 'destination': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, 'stage': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'title': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'grants': {'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, 'revoke': {'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}}}, 'grant': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'from': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'to': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'approved_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'requested_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'ticket': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'expires': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}}}}}, rule='type')
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(['egress', 'policy', 'zones', 'services', 'stages']) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain " + (str(sorted(data__missing_keys)) + " properties"), value=data, name="" + (name_prefix or "data") + "", definition={'$schema': 'https://json-schema.org/draft/2020-12/schema', '$id': 'https://egress.invalid/schemas/policy-v1.schema.json', 'type': 'object', 'additionalProperties': False, 'required': ['egress', 'policy', 'zones', 'services', 'stages'], 'properties': {'egress': {'type': 'integer', 'const': 1}, 'policy': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'timezone': {'type': 'string', 'maxLength': 94, 'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'}, 'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'include': {'type': 'array', 'uniqueItems': True, 'items': {'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}}, 'zones': {'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}}, 'services': {'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'owner': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/destination'}}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}}}}, 'proxy': {'type': 'object', 'additionalProperties': False, 'required': ['zone', 'port'], 'properties': {'zone': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535}, 'tls': {'enum': ['none', 'peek'], 'default': 'none'}}}, 'firewall': {'type': 'object', 'additionalProperties': False, 'properties': {'hook': {'enum': ['forward', 'output'], 'default': 'forward'}, 'log_group': {'type': 'integer', 'minimum': 0, 'maximum': 65535}, 'mark_mask': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295}}}, 'stages': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'title': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'date': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/date'}, 'grants': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/grant'}}, 'revoke': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}}}}}, '$defs': {'name': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'nameOrList': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, 'metaText': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'instant': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'port': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}}, 'zone': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}}, 'service': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'owner': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}}}, 'destination': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, 'stage': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'title': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'grants': {'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, 'revoke': {'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}}}, 'grant': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'from': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'to': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'approved_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'requested_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'ticket': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'expires': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}}}}}, rule='required')
        data_keys = set(data.keys())
        if "egress" in data_keys:
            data_keys.remove("egress")
            data__egress = data["egress"]
            if not isinstance(data__egress, (int)) and not (isinstance(data__egress, float) and data__egress.is_integer()) or isinstance(data__egress, bool):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".egress must be integer", value=data__egress, name="" + (name_prefix or "data") + ".egress", definition={'type': 'integer', 'const': 1}, rule='type')
            if not (isinstance(data__egress, (int, float)) and not isinstance(data__egress, bool) and data__egress == 1):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".egress must be same as const definition: 1", value=data__egress, name="" + (name_prefix or "data") + ".egress", definition={'type': 'integer', 'const': 1}, rule='const')
        if "policy" in data_keys:
            data_keys.remove("policy")
            data__policy = data["policy"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__policy, custom_formats, (name_prefix or "data") + ".policy")
        if "timezone" in data_keys:
            data_keys.remove("timezone")
            data__timezone = data["timezone"]
            if not isinstance(data__timezone, (str)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".timezone must be string", value=data__timezone, name="" + (name_prefix or "data") + ".timezone", definition={'type': 'string', 'maxLength': 94, 'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'}, rule='type')
            if isinstance(data__timezone, str):
                data__timezone_len = len(data__timezone)
                if data__timezone_len > 94:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".timezone must be shorter than or equal to 94 characters", value=data__timezone, name="" + (name_prefix or "data") + ".timezone", definition={'type': 'string', 'maxLength': 94, 'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'}, rule='maxLength')
                if not REGEX_PATTERNS['^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'].search(data__timezone):
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".timezone must match pattern ^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)", value=data__timezone, name="" + (name_prefix or "data") + ".timezone", definition={'type': 'string', 'maxLength': 94, 'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'}, rule='pattern')
        if "description" in data_keys:
            data_keys.remove("description")
            data__description = data["description"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__description, custom_formats, (name_prefix or "data") + ".description")
        if "include" in data_keys:
            data_keys.remove("include")
            data__include = data["include"]
            if not isinstance(data__include, (list, tuple)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".include must be array", value=data__include, name="" + (name_prefix or "data") + ".include", definition={'type': 'array', 'uniqueItems': True, 'items': {'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}}, rule='type')
            data__include_is_list = isinstance(data__include, (list, tuple))
            if data__include_is_list:
                def fn(var): return frozenset(dict((k, fn(v)) for k, v in var.items()).items()) if hasattr(var, "items") else tuple(fn(v) for v in var) if isinstance(var, (dict, list)) else (bool, var) if isinstance(var, bool) else var
                data__include_len = len(data__include)
                if data__include_len > len(set(fn(data__include_x) for data__include_x in data__include)):
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".include must contain unique items", value=data__include, name="" + (name_prefix or "data") + ".include", definition={'type': 'array', 'uniqueItems': True, 'items': {'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}}, rule='uniqueItems')
                for data__include_x, data__include_item in enumerate(data__include):
                    if not isinstance(data__include_item, (str)):
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".include[{data__include_x}]".format(**locals()) + " must be string", value=data__include_item, name="" + (name_prefix or "data") + ".include[{data__include_x}]".format(**locals()) + "", definition={'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}, rule='type')
                    if isinstance(data__include_item, str):
                        data__include_item_len = len(data__include_item)
                        if data__include_item_len > 255:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".include[{data__include_x}]".format(**locals()) + " must be shorter than or equal to 255 characters", value=data__include_item, name="" + (name_prefix or "data") + ".include[{data__include_x}]".format(**locals()) + "", definition={'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}, rule='maxLength')
                        if not REGEX_PATTERNS['^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'].search(data__include_item):
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".include[{data__include_x}]".format(**locals()) + " must match pattern ^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)", value=data__include_item, name="" + (name_prefix or "data") + ".include[{data__include_x}]".format(**locals()) + "", definition={'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}, rule='pattern')
        if "zones" in data_keys:
            data_keys.remove("zones")
            data__zones = data["zones"]
            if not isinstance(data__zones, (dict)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".zones must be object", value=data__zones, name="" + (name_prefix or "data") + ".zones", definition={'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}}, rule='type')
            data__zones_is_dict = isinstance(data__zones, dict)
            if data__zones_is_dict:
                data__zones_len = len(data__zones)
                if data__zones_len < 1:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".zones must contain at least 1 properties", value=data__zones, name="" + (name_prefix or "data") + ".zones", definition={'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}}, rule='minProperties')
                data__zones_keys = set(data__zones.keys())
                for data__zones_key in data__zones_keys:
                    if data__zones_key not in []:
                        data__zones_value = data__zones.get(data__zones_key)
                        validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_zone(data__zones_value, custom_formats, (name_prefix or "data") + ".zones.{data__zones_key}".format(**locals()))
                if data__zones_len != 0:
                    data__zones_property_names = True
                    for data__zones_key in data__zones:
                        try:
                            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__zones_key, custom_formats, (name_prefix or "data") + ".zones")
                        except (JsonSchemaValueException, JsonSchemaValuesException):
                            data__zones_property_names = False
                    if not data__zones_property_names:
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".zones must be named by propertyName definition", value=data__zones, name="" + (name_prefix or "data") + ".zones", definition={'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}}, rule='propertyNames')
        if "services" in data_keys:
            data_keys.remove("services")
            data__services = data["services"]
            if not isinstance(data__services, (dict)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".services must be object", value=data__services, name="" + (name_prefix or "data") + ".services", definition={'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'owner': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/destination'}}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}}}}, rule='type')
            data__services_is_dict = isinstance(data__services, dict)
            if data__services_is_dict:
                data__services_len = len(data__services)
                if data__services_len < 1:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".services must contain at least 1 properties", value=data__services, name="" + (name_prefix or "data") + ".services", definition={'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'owner': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/destination'}}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}}}}, rule='minProperties')
                data__services_keys = set(data__services.keys())
                for data__services_key in data__services_keys:
                    if data__services_key not in []:
                        data__services_value = data__services.get(data__services_key)
                        validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_service(data__services_value, custom_formats, (name_prefix or "data") + ".services.{data__services_key}".format(**locals()))
                if data__services_len != 0:
                    data__services_property_names = True
                    for data__services_key in data__services:
                        try:
                            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__services_key, custom_formats, (name_prefix or "data") + ".services")
                        except (JsonSchemaValueException, JsonSchemaValuesException):
                            data__services_property_names = False
                    if not data__services_property_names:
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".services must be named by propertyName definition", value=data__services, name="" + (name_prefix or "data") + ".services", definition={'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'owner': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/destination'}}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}}}}, rule='propertyNames')
        if "proxy" in data_keys:
            data_keys.remove("proxy")
            data__proxy = data["proxy"]
            if not isinstance(data__proxy, (dict)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy must be object", value=data__proxy, name="" + (name_prefix or "data") + ".proxy", definition={'type': 'object', 'additionalProperties': False, 'required': ['zone', 'port'], 'properties': {'zone': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535}, 'tls': {'enum': ['none', 'peek'], 'default': 'none'}}}, rule='type')
            data__proxy_is_dict = isinstance(data__proxy, dict)
            if data__proxy_is_dict:
                data__proxy__missing_keys = set(['zone', 'port']) - data__proxy.keys()
                if data__proxy__missing_keys:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy must contain " + (str(sorted(data__proxy__missing_keys)) + " properties"), value=data__proxy, name="" + (name_prefix or "data") + ".proxy", definition={'type': 'object', 'additionalProperties': False, 'required': ['zone', 'port'], 'properties': {'zone': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535}, 'tls': {'enum': ['none', 'peek'], 'default': 'none'}}}, rule='required')
                data__proxy_keys = set(data__proxy.keys())
                if "zone" in data__proxy_keys:
                    data__proxy_keys.remove("zone")
                    data__proxy__zone = data__proxy["zone"]
                    validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__proxy__zone, custom_formats, (name_prefix or "data") + ".proxy.zone")
                if "port" in data__proxy_keys:
                    data__proxy_keys.remove("port")
                    data__proxy__port = data__proxy["port"]
                    if not isinstance(data__proxy__port, (int)) and not (isinstance(data__proxy__port, float) and data__proxy__port.is_integer()) or isinstance(data__proxy__port, bool):
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy.port must be integer", value=data__proxy__port, name="" + (name_prefix or "data") + ".proxy.port", definition={'type': 'integer', 'minimum': 1, 'maximum': 65535}, rule='type')
                    if isinstance(data__proxy__port, (int, float, Decimal)) and not isinstance(data__proxy__port, bool):
                        if data__proxy__port < 1:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy.port must be bigger than or equal to 1", value=data__proxy__port, name="" + (name_prefix or "data") + ".proxy.port", definition={'type': 'integer', 'minimum': 1, 'maximum': 65535}, rule='minimum')
                        if data__proxy__port > 65535:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy.port must be smaller than or equal to 65535", value=data__proxy__port, name="" + (name_prefix or "data") + ".proxy.port", definition={'type': 'integer', 'minimum': 1, 'maximum': 65535}, rule='maximum')
                if "tls" in data__proxy_keys:
                    data__proxy_keys.remove("tls")
                    data__proxy__tls = data__proxy["tls"]
                    if not (isinstance(data__proxy__tls, str) and data__proxy__tls == 'none' or isinstance(data__proxy__tls, str) and data__proxy__tls == 'peek'):
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy.tls must be one of ['none', 'peek']", value=data__proxy__tls, name="" + (name_prefix or "data") + ".proxy.tls", definition={'enum': ['none', 'peek'], 'default': 'none'}, rule='enum')
                else: data__proxy["tls"] = 'none'
                if data__proxy_keys:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".proxy must not contain "+str(data__proxy_keys)+" properties", value=data__proxy, name="" + (name_prefix or "data") + ".proxy", definition={'type': 'object', 'additionalProperties': False, 'required': ['zone', 'port'], 'properties': {'zone': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535}, 'tls': {'enum': ['none', 'peek'], 'default': 'none'}}}, rule='additionalProperties')
        if "firewall" in data_keys:
            data_keys.remove("firewall")
            data__firewall = data["firewall"]
            if not isinstance(data__firewall, (dict)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall must be object", value=data__firewall, name="" + (name_prefix or "data") + ".firewall", definition={'type': 'object', 'additionalProperties': False, 'properties': {'hook': {'enum': ['forward', 'output'], 'default': 'forward'}, 'log_group': {'type': 'integer', 'minimum': 0, 'maximum': 65535}, 'mark_mask': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295}}}, rule='type')
            data__firewall_is_dict = isinstance(data__firewall, dict)
            if data__firewall_is_dict:
                data__firewall_keys = set(data__firewall.keys())
                if "hook" in data__firewall_keys:
                    data__firewall_keys.remove("hook")
                    data__firewall__hook = data__firewall["hook"]
                    if not (isinstance(data__firewall__hook, str) and data__firewall__hook == 'forward' or isinstance(data__firewall__hook, str) and data__firewall__hook == 'output'):
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.hook must be one of ['forward', 'output']", value=data__firewall__hook, name="" + (name_prefix or "data") + ".firewall.hook", definition={'enum': ['forward', 'output'], 'default': 'forward'}, rule='enum')
                else: data__firewall["hook"] = 'forward'
                if "log_group" in data__firewall_keys:
                    data__firewall_keys.remove("log_group")
                    data__firewall__loggroup = data__firewall["log_group"]
                    if not isinstance(data__firewall__loggroup, (int)) and not (isinstance(data__firewall__loggroup, float) and data__firewall__loggroup.is_integer()) or isinstance(data__firewall__loggroup, bool):
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.log_group must be integer", value=data__firewall__loggroup, name="" + (name_prefix or "data") + ".firewall.log_group", definition={'type': 'integer', 'minimum': 0, 'maximum': 65535}, rule='type')
                    if isinstance(data__firewall__loggroup, (int, float, Decimal)) and not isinstance(data__firewall__loggroup, bool):
                        if data__firewall__loggroup < 0:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.log_group must be bigger than or equal to 0", value=data__firewall__loggroup, name="" + (name_prefix or "data") + ".firewall.log_group", definition={'type': 'integer', 'minimum': 0, 'maximum': 65535}, rule='minimum')
                        if data__firewall__loggroup > 65535:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.log_group must be smaller than or equal to 65535", value=data__firewall__loggroup, name="" + (name_prefix or "data") + ".firewall.log_group", definition={'type': 'integer', 'minimum': 0, 'maximum': 65535}, rule='maximum')
                if "mark_mask" in data__firewall_keys:
                    data__firewall_keys.remove("mark_mask")
                    data__firewall__markmask = data__firewall["mark_mask"]
                    if not isinstance(data__firewall__markmask, (int)) and not (isinstance(data__firewall__markmask, float) and data__firewall__markmask.is_integer()) or isinstance(data__firewall__markmask, bool):
                        raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.mark_mask must be integer", value=data__firewall__markmask, name="" + (name_prefix or "data") + ".firewall.mark_mask", definition={'type': 'integer', 'minimum': 1, 'maximum': 4294967295}, rule='type')
                    if isinstance(data__firewall__markmask, (int, float, Decimal)) and not isinstance(data__firewall__markmask, bool):
                        if data__firewall__markmask < 1:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.mark_mask must be bigger than or equal to 1", value=data__firewall__markmask, name="" + (name_prefix or "data") + ".firewall.mark_mask", definition={'type': 'integer', 'minimum': 1, 'maximum': 4294967295}, rule='minimum')
                        if data__firewall__markmask > 4294967295:
                            raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall.mark_mask must be smaller than or equal to 4294967295", value=data__firewall__markmask, name="" + (name_prefix or "data") + ".firewall.mark_mask", definition={'type': 'integer', 'minimum': 1, 'maximum': 4294967295}, rule='maximum')
                if data__firewall_keys:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".firewall must not contain "+str(data__firewall_keys)+" properties", value=data__firewall, name="" + (name_prefix or "data") + ".firewall", definition={'type': 'object', 'additionalProperties': False, 'properties': {'hook': {'enum': ['forward', 'output'], 'default': 'forward'}, 'log_group': {'type': 'integer', 'minimum': 0, 'maximum': 65535}, 'mark_mask': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295}}}, rule='additionalProperties')
        if "stages" in data_keys:
            data_keys.remove("stages")
            data__stages = data["stages"]
            if not isinstance(data__stages, (list, tuple)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".stages must be array", value=data__stages, name="" + (name_prefix or "data") + ".stages", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'title': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'date': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/date'}, 'grants': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/grant'}}, 'revoke': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}}}}, rule='type')
            data__stages_is_list = isinstance(data__stages, (list, tuple))
            if data__stages_is_list:
                data__stages_len = len(data__stages)
                if data__stages_len < 1:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".stages must contain at least 1 items", value=data__stages, name="" + (name_prefix or "data") + ".stages", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'title': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'date': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/date'}, 'grants': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/grant'}}, 'revoke': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}}}}, rule='minItems')
                for data__stages_x, data__stages_item in enumerate(data__stages):
                    validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_stage(data__stages_item, custom_formats, (name_prefix or "data") + ".stages[{data__stages_x}]".format(**locals()))
        if data_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must not contain "+str(data_keys)+" properties", value=data, name="" + (name_prefix or "data") + "", definition={'$schema': 'https://json-schema.org/draft/2020-12/schema', '$id': 'https://egress.invalid/schemas/policy-v1.schema.json', 'type': 'object', 'additionalProperties': False, 'required': ['egress', 'policy', 'zones', 'services', 'stages'], 'properties': {'egress': {'type': 'integer', 'const': 1}, 'policy': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'timezone': {'type': 'string', 'maxLength': 94, 'pattern': '^[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}$(?!\\n)'}, 'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'include': {'type': 'array', 'uniqueItems': True, 'items': {'type': 'string', 'maxLength': 255, 'pattern': '^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\\.ya?ml$(?!\\n)'}}, 'zones': {'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}}, 'services': {'type': 'object', 'minProperties': 1, 'propertyNames': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'additionalProperties': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'owner': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/destination'}}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}}}}, 'proxy': {'type': 'object', 'additionalProperties': False, 'required': ['zone', 'port'], 'properties': {'zone': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'port': {'type': 'integer', 'minimum': 1, 'maximum': 65535}, 'tls': {'enum': ['none', 'peek'], 'default': 'none'}}}, 'firewall': {'type': 'object', 'additionalProperties': False, 'properties': {'hook': {'enum': ['forward', 'output'], 'default': 'forward'}, 'log_group': {'type': 'integer', 'minimum': 0, 'maximum': 65535}, 'mark_mask': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295}}}, 'stages': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'title': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'date': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/date'}, 'grants': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/grant'}}, 'revoke': {'type': 'array', 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}}}}}, '$defs': {'name': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'nameOrList': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, 'metaText': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'instant': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'port': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}}, 'zone': {'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}}, 'service': {'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'owner': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}}}, 'destination': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, 'stage': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'title': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'grants': {'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, 'revoke': {'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}}}, 'grant': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'from': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'to': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'approved_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'requested_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'ticket': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'expires': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}}}}}, rule='additionalProperties')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_stage(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be object", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'title': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'grants': {'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, 'revoke': {'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}}}, rule='type')
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(['id', 'grants']) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain " + (str(sorted(data__missing_keys)) + " properties"), value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'title': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'grants': {'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, 'revoke': {'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}}}, rule='required')
        data_keys = set(data.keys())
        if "id" in data_keys:
            data_keys.remove("id")
            data__id = data["id"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__id, custom_formats, (name_prefix or "data") + ".id")
        if "title" in data_keys:
            data_keys.remove("title")
            data__title = data["title"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__title, custom_formats, (name_prefix or "data") + ".title")
        if "date" in data_keys:
            data_keys.remove("date")
            data__date = data["date"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_date(data__date, custom_formats, (name_prefix or "data") + ".date")
        if "grants" in data_keys:
            data_keys.remove("grants")
            data__grants = data["grants"]
            if not isinstance(data__grants, (list, tuple)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".grants must be array", value=data__grants, name="" + (name_prefix or "data") + ".grants", definition={'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, rule='type')
            data__grants_is_list = isinstance(data__grants, (list, tuple))
            if data__grants_is_list:
                data__grants_len = len(data__grants)
                for data__grants_x, data__grants_item in enumerate(data__grants):
                    validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_grant(data__grants_item, custom_formats, (name_prefix or "data") + ".grants[{data__grants_x}]".format(**locals()))
        if "revoke" in data_keys:
            data_keys.remove("revoke")
            data__revoke = data["revoke"]
            if not isinstance(data__revoke, (list, tuple)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".revoke must be array", value=data__revoke, name="" + (name_prefix or "data") + ".revoke", definition={'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, rule='type')
            data__revoke_is_list = isinstance(data__revoke, (list, tuple))
            if data__revoke_is_list:
                data__revoke_len = len(data__revoke)
                for data__revoke_x, data__revoke_item in enumerate(data__revoke):
                    validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__revoke_item, custom_formats, (name_prefix or "data") + ".revoke[{data__revoke_x}]".format(**locals()))
        if data_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must not contain "+str(data_keys)+" properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['id', 'grants'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'title': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'date': {'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, 'grants': {'type': 'array', 'items': {'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}, 'from': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'to': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/nameOrList'}, 'ports': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/ports'}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'approved_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'requested_by': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'ticket': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/metaText'}, 'expires': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/instant'}}}}, 'revoke': {'type': 'array', 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}}}, rule='additionalProperties')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_grant(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be object", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'from': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'to': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'approved_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'requested_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'ticket': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'expires': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}}}, rule='type')
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(['id', 'from', 'to']) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain " + (str(sorted(data__missing_keys)) + " properties"), value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'from': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'to': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'approved_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'requested_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'ticket': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'expires': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}}}, rule='required')
        data_keys = set(data.keys())
        if "id" in data_keys:
            data_keys.remove("id")
            data__id = data["id"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data__id, custom_formats, (name_prefix or "data") + ".id")
        if "from" in data_keys:
            data_keys.remove("from")
            data__from = data["from"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_nameorlist(data__from, custom_formats, (name_prefix or "data") + ".from")
        if "to" in data_keys:
            data_keys.remove("to")
            data__to = data["to"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_nameorlist(data__to, custom_formats, (name_prefix or "data") + ".to")
        if "ports" in data_keys:
            data_keys.remove("ports")
            data__ports = data["ports"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_ports(data__ports, custom_formats, (name_prefix or "data") + ".ports")
        if "via" in data_keys:
            data_keys.remove("via")
            data__via = data["via"]
            if not (isinstance(data__via, str) and data__via == 'direct' or isinstance(data__via, str) and data__via == 'proxy'):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".via must be one of ['direct', 'proxy']", value=data__via, name="" + (name_prefix or "data") + ".via", definition={'enum': ['direct', 'proxy'], 'default': 'direct'}, rule='enum')
        else: data["via"] = 'direct'
        if "reason" in data_keys:
            data_keys.remove("reason")
            data__reason = data["reason"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__reason, custom_formats, (name_prefix or "data") + ".reason")
        if "approved_by" in data_keys:
            data_keys.remove("approved_by")
            data__approvedby = data["approved_by"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__approvedby, custom_formats, (name_prefix or "data") + ".approved_by")
        if "requested_by" in data_keys:
            data_keys.remove("requested_by")
            data__requestedby = data["requested_by"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__requestedby, custom_formats, (name_prefix or "data") + ".requested_by")
        if "ticket" in data_keys:
            data_keys.remove("ticket")
            data__ticket = data["ticket"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__ticket, custom_formats, (name_prefix or "data") + ".ticket")
        if "expires" in data_keys:
            data_keys.remove("expires")
            data__expires = data["expires"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_instant(data__expires, custom_formats, (name_prefix or "data") + ".expires")
        if data_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must not contain "+str(data_keys)+" properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['id', 'from', 'to'], 'properties': {'id': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, 'from': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'to': {'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/name'}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}, 'via': {'enum': ['direct', 'proxy'], 'default': 'direct'}, 'reason': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'approved_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'requested_by': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'ticket': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'expires': {'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}}}, rule='additionalProperties')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_instant(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        if not REGEX_PATTERNS['^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])? ?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?$(?!\\n)'}, rule='pattern')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_ports(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (list, tuple)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be array", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}}, rule='type')
    data_is_list = isinstance(data, (list, tuple))
    if data_is_list:
        data_len = len(data)
        if data_len < 1:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain at least 1 items", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}}, rule='minItems')
        for data_x, data_item in enumerate(data):
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_port(data_item, custom_formats, (name_prefix or "data") + "[{data_x}]".format(**locals()))
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_port(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        if not REGEX_PATTERNS['^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'pattern': '^(?:(?:tcp|udp)/[1-9][0-9]{0,4}(?:-[1-9][0-9]{0,4})?|icmp|icmpv6)$(?!\\n)'}, rule='pattern')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_nameorlist(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str, list, tuple)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string or array", value=data, name="" + (name_prefix or "data") + "", definition={'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, rule='type')
    if isinstance(data, str):
        data_len = len(data)
        if data_len > 63:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be shorter than or equal to 63 characters", value=data, name="" + (name_prefix or "data") + "", definition={'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, rule='maxLength')
        if not REGEX_PATTERNS['^[a-z0-9][a-z0-9-]*$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^[a-z0-9][a-z0-9-]*$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, rule='pattern')
    data_is_list = isinstance(data, (list, tuple))
    if data_is_list:
        data_len = len(data)
        if data_len < 1:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain at least 1 items", value=data, name="" + (name_prefix or "data") + "", definition={'type': ['string', 'array'], 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}}, rule='minItems')
        for data_x, data_item in enumerate(data):
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data_item, custom_formats, (name_prefix or "data") + "[{data_x}]".format(**locals()))
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_date(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        if not REGEX_PATTERNS['^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, rule='pattern')
        if not REGEX_PATTERNS["date_re_pattern"].match(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be date", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'format': 'date', 'pattern': '^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$(?!\\n)'}, rule='format')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_service(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be object", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'owner': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}}}, rule='type')
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(['destinations', 'ports']) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain " + (str(sorted(data__missing_keys)) + " properties"), value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'owner': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}}}, rule='required')
        data_keys = set(data.keys())
        if "description" in data_keys:
            data_keys.remove("description")
            data__description = data["description"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__description, custom_formats, (name_prefix or "data") + ".description")
        if "owner" in data_keys:
            data_keys.remove("owner")
            data__owner = data["owner"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__owner, custom_formats, (name_prefix or "data") + ".owner")
        if "destinations" in data_keys:
            data_keys.remove("destinations")
            data__destinations = data["destinations"]
            if not isinstance(data__destinations, (list, tuple)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".destinations must be array", value=data__destinations, name="" + (name_prefix or "data") + ".destinations", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, rule='type')
            data__destinations_is_list = isinstance(data__destinations, (list, tuple))
            if data__destinations_is_list:
                data__destinations_len = len(data__destinations)
                if data__destinations_len < 1:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".destinations must contain at least 1 items", value=data__destinations, name="" + (name_prefix or "data") + ".destinations", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, rule='minItems')
                for data__destinations_x, data__destinations_item in enumerate(data__destinations):
                    validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_destination(data__destinations_item, custom_formats, (name_prefix or "data") + ".destinations[{data__destinations_x}]".format(**locals()))
        if "ports" in data_keys:
            data_keys.remove("ports")
            data__ports = data["ports"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_ports(data__ports, custom_formats, (name_prefix or "data") + ".ports")
        if data_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must not contain "+str(data_keys)+" properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['destinations', 'ports'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'owner': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'destinations': {'type': 'array', 'minItems': 1, 'items': {'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/domain'}, 'host': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/host'}, 'address': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/address'}}}}, 'ports': {'type': 'array', 'minItems': 1, 'items': {'$ref': 'https://egress.invalid/schemas/policy-v1.schema.json#/$defs/port'}}}}, rule='additionalProperties')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_destination(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be object", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, rule='type')
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data_len = len(data)
        if data_len < 1:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain at least 1 properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, rule='minProperties')
        if data_len > 1:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain less than or equal to 1 properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, rule='maxProperties')
        data_keys = set(data.keys())
        if "domain" in data_keys:
            data_keys.remove("domain")
            data__domain = data["domain"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_domain(data__domain, custom_formats, (name_prefix or "data") + ".domain")
        if "host" in data_keys:
            data_keys.remove("host")
            data__host = data["host"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_host(data__host, custom_formats, (name_prefix or "data") + ".host")
        if "address" in data_keys:
            data_keys.remove("address")
            data__address = data["address"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_address(data__address, custom_formats, (name_prefix or "data") + ".address")
        if data_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must not contain "+str(data_keys)+" properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'minProperties': 1, 'maxProperties': 1, 'additionalProperties': False, 'properties': {'domain': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'host': {'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, 'address': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}, rule='additionalProperties')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_address(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        data_len = len(data)
        if data_len > 49:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be shorter than or equal to 49 characters", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}, rule='maxLength')
        if not REGEX_PATTERNS['^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}, rule='pattern')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_host(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        data_len = len(data)
        if data_len > 253:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be shorter than or equal to 253 characters", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, rule='maxLength')
        if not REGEX_PATTERNS['^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, rule='pattern')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_domain(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        data_len = len(data)
        if data_len > 253:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be shorter than or equal to 253 characters", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, rule='maxLength')
        if not REGEX_PATTERNS['^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 253, 'pattern': '^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$(?!\\n)'}, rule='pattern')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_zone(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be object", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}}, rule='type')
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(['addresses']) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must contain " + (str(sorted(data__missing_keys)) + " properties"), value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}}, rule='required')
        data_keys = set(data.keys())
        if "description" in data_keys:
            data_keys.remove("description")
            data__description = data["description"]
            validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data__description, custom_formats, (name_prefix or "data") + ".description")
        if "addresses" in data_keys:
            data_keys.remove("addresses")
            data__addresses = data["addresses"]
            if not isinstance(data__addresses, (list, tuple)):
                raise JsonSchemaValueException("" + (name_prefix or "data") + ".addresses must be array", value=data__addresses, name="" + (name_prefix or "data") + ".addresses", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}, rule='type')
            data__addresses_is_list = isinstance(data__addresses, (list, tuple))
            if data__addresses_is_list:
                data__addresses_len = len(data__addresses)
                if data__addresses_len < 1:
                    raise JsonSchemaValueException("" + (name_prefix or "data") + ".addresses must contain at least 1 items", value=data__addresses, name="" + (name_prefix or "data") + ".addresses", definition={'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}, rule='minItems')
                for data__addresses_x, data__addresses_item in enumerate(data__addresses):
                    validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_address(data__addresses_item, custom_formats, (name_prefix or "data") + ".addresses[{data__addresses_x}]".format(**locals()))
        if data_keys:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must not contain "+str(data_keys)+" properties", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'object', 'additionalProperties': False, 'required': ['addresses'], 'properties': {'description': {'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, 'addresses': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'maxLength': 49, 'pattern': '^[0-9A-Fa-f:.]+(?:/[0-9]{1,3})?$(?!\\n)'}}}}, rule='additionalProperties')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_metatext(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        data_len = len(data)
        if data_len > 200:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be shorter than or equal to 200 characters", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, rule='maxLength')
        if not REGEX_PATTERNS['^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 200, 'pattern': '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff]*$(?!\\n)'}, rule='pattern')
    return data

def validate_https___egress_invalid_schemas_policy_v1_schema_json___defs_name(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (str)):
        raise JsonSchemaValueException("" + (name_prefix or "data") + " must be string", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, rule='type')
    if isinstance(data, str):
        data_len = len(data)
        if data_len > 63:
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must be shorter than or equal to 63 characters", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, rule='maxLength')
        if not REGEX_PATTERNS['^[a-z0-9][a-z0-9-]*$(?!\\n)'].search(data):
            raise JsonSchemaValueException("" + (name_prefix or "data") + " must match pattern ^[a-z0-9][a-z0-9-]*$(?!\\n)", value=data, name="" + (name_prefix or "data") + "", definition={'type': 'string', 'maxLength': 63, 'pattern': '^[a-z0-9][a-z0-9-]*$(?!\\n)'}, rule='pattern')
    return data


validate = validate_https___egress_invalid_schemas_policy_v1_schema_json
