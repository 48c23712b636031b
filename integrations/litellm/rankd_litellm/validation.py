"""The gateway's own check of a returned tool call: the tool was offered, its arguments are a
JSON object, and they fit the tool's JSON Schema (required keys, types, enums, nested objects
and arrays). It cannot tell a right value from a wrong one; rankd's probes do that."""

import json

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _fits(value, schema, path):
    """None when `value` fits `schema`, else why not."""
    if not isinstance(schema, dict):
        return None
    expected = schema.get("type")
    if expected is not None:
        kinds = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES.get(kind, lambda v: True)(value) for kind in kinds):
            return f"{path or 'arguments'}: expected {expected}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: not one of {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return f"{path + '.' if path else ''}{key}: required"
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                problem = _fits(item, properties[key], f"{path + '.' if path else ''}{key}")
                if problem:
                    return problem
            elif schema.get("additionalProperties") is False:
                return f"{path + '.' if path else ''}{key}: not allowed"
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            problem = _fits(item, schema["items"], f"{path}[{index}]")
            if problem:
                return problem
    return None


def _get(obj, key):
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def validate_tool_calls(tools, tool_calls, tool_choice=None):
    """(valid, reason) for a response's tool calls against the offered tools.

    valid is None when no verdict applies: no tools were offered, or the model answered in text
    where it was free to. A missing call where one was forced, an unknown tool, arguments that are
    not a JSON object, or arguments outside the schema give False with the reason."""
    if not tools:
        return None, None
    if not tool_calls:
        forced = tool_choice == "required" or isinstance(tool_choice, dict)
        return (False, "no tool call where one was required") if forced else (None, None)
    schemas = {}
    for tool in tools:
        function = _get(tool, "function") or {}
        schemas[_get(function, "name")] = _get(function, "parameters") or {}
    for call in tool_calls:
        function = _get(call, "function")
        name = _get(function, "name")
        if name not in schemas:
            return False, f"tool {name!r} was not offered"
        raw = _get(function, "arguments")
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return False, f"{name}: arguments are not JSON"
        if not isinstance(arguments, dict):
            return False, f"{name}: arguments are not a JSON object"
        problem = _fits(arguments, schemas[name], "")
        if problem:
            return False, f"{name}: {problem}"
    return True, None
