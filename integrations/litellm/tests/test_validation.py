"""validate_tool_calls: the gateway-side verdict that the telemetry callback sends as tool_call_valid."""

import json
import os
import unittest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network: LiteLLM's bundled price map

from rankd_litellm import validate_tool_calls

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "book_flight",
            "parameters": {
                "type": "object",
                "properties": {
                    "origin": {"type": "string"},
                    "passengers": {"type": "integer"},
                    "cabin": {"type": "string", "enum": ["economy", "business"]},
                    "legs": {"type": "array", "items": {"type": "object", "required": ["date"],
                                                        "properties": {"date": {"type": "string"}}}},
                },
                "required": ["origin", "passengers"],
                "additionalProperties": False,
            },
        },
    }
]


def call(arguments, name="book_flight"):
    return [{"type": "function", "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}}]


class Attributes:
    """LiteLLM's response objects expose fields as attributes, not keys."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class ValidateToolCallsTest(unittest.TestCase):
    def test_a_call_that_fits_the_schema_is_valid(self):
        self.assertEqual(validate_tool_calls(TOOLS, call({"origin": "LIS", "passengers": 2, "cabin": "economy",
                                                          "legs": [{"date": "2026-12-01"}]})), (True, None))

    def test_attribute_style_objects_are_read_like_dicts(self):
        calls = [Attributes(function=Attributes(name="book_flight", arguments='{"origin": "LIS", "passengers": 1}'))]
        self.assertEqual(validate_tool_calls(TOOLS, calls), (True, None))

    def test_each_kind_of_breakage_is_named(self):
        cases = {
            "book_flight: arguments are not JSON": call('{"origin": "LIS", '),
            "book_flight: arguments are not a JSON object": call("[1, 2]"),
            "tool 'cancel' was not offered": call({"origin": "LIS", "passengers": 1}, name="cancel"),
            "book_flight: passengers: required": call({"origin": "LIS"}),
            "book_flight: passengers: expected integer": call({"origin": "LIS", "passengers": "two"}),
            "book_flight: passengers: expected integer ": call({"origin": "LIS", "passengers": True}),
            "book_flight: cabin: not one of ['economy', 'business']": call({"origin": "LIS", "passengers": 1, "cabin": "first"}),
            "book_flight: seat: not allowed": call({"origin": "LIS", "passengers": 1, "seat": "1A"}),
            "book_flight: legs[1].date: required": call({"origin": "LIS", "passengers": 1, "legs": [{"date": "x"}, {}]}),
        }
        for reason, calls in cases.items():
            with self.subTest(reason=reason):
                self.assertEqual(validate_tool_calls(TOOLS, calls), (False, reason.strip()))

    def test_no_verdict_without_tools_or_when_text_was_allowed(self):
        self.assertEqual(validate_tool_calls([], call({})), (None, None))
        self.assertEqual(validate_tool_calls(TOOLS, None), (None, None))
        self.assertEqual(validate_tool_calls(TOOLS, [], "auto"), (None, None))

    def test_a_missing_call_where_one_was_forced_is_invalid(self):
        forced = {"type": "function", "function": {"name": "book_flight"}}
        for choice in ("required", forced):
            with self.subTest(choice=choice):
                self.assertEqual(validate_tool_calls(TOOLS, [], choice), (False, "no tool call where one was required"))

    def test_every_call_of_a_parallel_answer_is_checked(self):
        calls = call({"origin": "LIS", "passengers": 1}) + call({"origin": "OSL"})
        self.assertEqual(validate_tool_calls(TOOLS, calls), (False, "book_flight: passengers: required"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
