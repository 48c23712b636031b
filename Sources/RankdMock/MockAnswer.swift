import RankdCore

/// What the mock answers: the right tool call for a known probe case (its expected values), a
/// schema-shaped call for any other tool request, or text; then the drawn fault bends it.
public enum MockAnswer: Hashable, Sendable {
    case toolCall(name: String, arguments: String)
    case text(String)

    /// The correct answer to a chat request.
    static func correct(request: JSONValue, cases: [String: ProbeCase]) -> (answer: MockAnswer, probe: ProbeCase?, tools: [ToolDefinition])
    {
        let tools = (request["tools"]?.arrayValue ?? []).compactMap { tool -> ToolDefinition? in
            guard let name = tool["function"]?["name"]?.stringValue else { return nil }
            return ToolDefinition(
                name: name, description: tool["function"]?["description"]?.stringValue ?? "",
                parameters: tool["function"]?["parameters"] ?? .object([:]))
        }
        let prompt = (request["messages"]?.arrayValue ?? []).last { $0["role"]?.stringValue == "user" }?["content"]?.stringValue ?? ""
        if let probe = cases[prompt] {
            switch probe.expectation {
            case .noToolCall:
                return (.text("Buenos días."), probe, tools)
            case .toolCall(let name, let expected):
                let schema = probe.tool(named: name)?.parameters ?? .object([:])
                var arguments = synthesize(schema: schema).objectValue ?? [:]
                let properties = schema["properties"]?.objectValue ?? [:]
                for (key, matcher) in expected { arguments[key] = example(matcher, schema: properties[key] ?? .null) }
                return (.toolCall(name: name, arguments: JSONValue.object(arguments).jsonText), probe, tools)
            }
        }
        let choice = request["tool_choice"]
        guard !tools.isEmpty, choice?.stringValue != "none" else {
            return (.text("This is a simulated answer from rankd's mock provider."), nil, tools)
        }
        let forced = choice?["function"]?["name"]?.stringValue
        let tool = tools.first { $0.name == forced } ?? tools[0]
        return (.toolCall(name: tool.name, arguments: synthesize(schema: tool.parameters).jsonText), nil, tools)
    }

    /// A value satisfying `matcher` and shaped like `schema` (arrays stay arrays).
    static func example(_ matcher: ArgumentMatcher, schema: JSONValue) -> JSONValue {
        switch matcher {
        case .nonEmpty, .present:
            return synthesize(schema: schema, nonEmpty: true)
        case .object(let fields):
            var object = synthesize(schema: schema).objectValue ?? [:]
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, child) in fields { object[key] = example(child, schema: properties[key] ?? .null) }
            return .object(object)
        default:
            return matcher.example
        }
    }

    /// A minimal value of the schema's shape: required properties only, first enum members.
    static func synthesize(schema: JSONValue, nonEmpty: Bool = false) -> JSONValue {
        if let first = schema["enum"]?.arrayValue?.first { return first }
        if let constant = schema["const"] { return constant }
        let type = schema["type"]?.stringValue ?? schema["type"]?.arrayValue?.first?.stringValue ?? "string"
        switch type {
        case "object":
            let properties = schema["properties"]?.objectValue ?? [:]
            var object: [String: JSONValue] = [:]
            for name in (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue) {
                object[name] = synthesize(schema: properties[name] ?? .null)
            }
            return .object(object)
        case "array":
            let count = max(nonEmpty ? 1 : 0, Int(saturating: schema["minItems"]?.numberValue ?? 0))
            return .array(Array(repeating: synthesize(schema: schema["items"] ?? .null), count: count))
        case "integer", "number":
            let low = schema["minimum"]?.numberValue ?? schema["exclusiveMinimum"].flatMap(\.numberValue).map { $0 + 1 } ?? 1
            return .number(low)
        case "boolean":
            return .bool(true)
        case "null":
            return .null
        default:
            return .string("example")
        }
    }

    /// Applies an argument-level fault. Returns the answer unchanged when the fault cannot apply.
    static func apply(_ fault: MockProfile.Fault, to answer: MockAnswer, probe: ProbeCase?, tools: [ToolDefinition]) -> MockAnswer {
        guard case .toolCall(let name, let arguments) = answer else { return answer }
        let schema = tools.first { $0.name == name }?.parameters ?? .object([:])
        switch fault {
        case .malformedArgs:
            return .toolCall(name: name, arguments: String(arguments.dropLast()) + ",\"")
        case .wrongTool:
            return .toolCall(name: tools.first { $0.name != name }?.name ?? "unknown_function", arguments: arguments)
        case .schemaViolation:
            guard var object = JSONValue.parse(arguments)?.objectValue else { return answer }
            let properties = schema["properties"]?.objectValue ?? [:]
            if let key = (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue).first {
                object[key] = wrongType(for: properties[key] ?? .null)
            } else {
                object["unexpected_property"] = .number(1)
                for (key, property) in properties { object[key] = wrongType(for: property) }
            }
            return .toolCall(name: name, arguments: JSONValue.object(object).jsonText)
        case .wrongValue:
            guard case .toolCall(_, let expected)? = probe?.expectation, let object = JSONValue.parse(arguments)?.objectValue else {
                return answer
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, matcher) in expected.sorted(by: { $0.key < $1.key }) {
                guard let value = object[key] else { continue }
                for candidate in mutations(of: value, schema: properties[key] ?? .null) where !matcher.matches(candidate) {
                    var changed = object
                    changed[key] = candidate
                    if JSONSchemaValidator.violations(of: .object(changed), against: schema).isEmpty {
                        return .toolCall(name: name, arguments: JSONValue.object(changed).jsonText)
                    }
                }
            }
            return answer
        case .http5xx, .http429, .hang, .truncated:
            return answer
        }
    }

    static func wrongType(for schema: JSONValue) -> JSONValue {
        switch schema["type"]?.stringValue {
        case "string": .number(42)
        case "integer", "number": .string("forty-two")
        case "boolean": .string("yes")
        case "array": .string("not-a-list")
        default: .number(1)
        }
    }

    /// Plausible wrong values of the same type: another enum member, a neighbouring number, a string
    /// with letters and digits shifted (keeps patterns like ^[A-Z]{3}$), an emptied array.
    static func mutations(of value: JSONValue, schema: JSONValue) -> [JSONValue] {
        if let options = schema["enum"]?.arrayValue { return options.filter { $0 != value } }
        switch value {
        case .number(let number): return [.number(number + 1), .number(number - 1), .number(number * 2)]
        case .string(let text):
            let shifted = String(
                text.unicodeScalars.map { scalar -> Character in
                    switch scalar.value {
                    case 48...57: Character(Unicode.Scalar(48 + (scalar.value - 48 + 1) % 10)!)
                    case 65...90: Character(Unicode.Scalar(65 + (scalar.value - 65 + 1) % 26)!)
                    case 97...122: Character(Unicode.Scalar(97 + (scalar.value - 97 + 1) % 26)!)
                    default: Character(scalar)
                    }
                })
            return [.string(shifted), .string("wrong-\(text)")]
        case .array: return [.array([])]
        case .object(let object):
            return object.keys.sorted().flatMap { key in
                mutations(of: object[key]!, schema: schema["properties"]?[key] ?? .null).map { candidate -> JSONValue in
                    var changed = object
                    changed[key] = candidate
                    return .object(changed)
                }
            }
        case .bool(let flag): return [.bool(!flag)]
        case .null: return []
        }
    }
}
