/// One synthetic tool-calling request with its known answer (a case of a probe suite).
public struct ProbeCase: Hashable, Sendable {
    public var id: String
    public var messages: [ChatMessage]
    public var tools: [ToolDefinition]
    public var toolChoice: ToolChoice
    public var stream: Bool
    public var maxTokens: Int
    public var expectation: Expectation

    public init(
        id: String, messages: [ChatMessage], tools: [ToolDefinition], toolChoice: ToolChoice = .auto, stream: Bool = true,
        maxTokens: Int = 256, expectation: Expectation
    ) {
        self.id = id
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.stream = stream
        self.maxTokens = maxTokens
        self.expectation = expectation
    }

    public func tool(named name: String) -> ToolDefinition? { tools.first { $0.name == name } }

    /// The OpenAI-compatible request body for this case.
    public func requestBody(model: String) -> JSONValue {
        var body: [String: JSONValue] = [
            "model": .string(model),
            "messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
            "stream": .bool(stream),
            "max_tokens": .number(Double(maxTokens)),
            "temperature": .number(0),
        ]
        if stream { body["stream_options"] = .object(["include_usage": .bool(true)]) }
        if !tools.isEmpty {
            body["tools"] = .array(tools.map(\.requestJSON))
            body["tool_choice"] = toolChoice.requestJSON
        }
        return .object(body)
    }
}

public struct ChatMessage: Hashable, Sendable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

public struct ToolDefinition: Hashable, Sendable {
    public var name: String
    public var description: String
    /// JSON Schema of the arguments.
    public var parameters: JSONValue

    public init(name: String, description: String, parameters: JSONValue) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }

    public var requestJSON: JSONValue {
        .object([
            "type": .string("function"),
            "function": .object(["name": .string(name), "description": .string(description), "parameters": parameters]),
        ])
    }
}

public enum ToolChoice: Hashable, Sendable {
    case auto
    case required
    case none
    /// Forces one named function.
    case function(String)

    public var requestJSON: JSONValue {
        switch self {
        case .auto: .string("auto")
        case .required: .string("required")
        case .none: .string("none")
        case .function(let name): .object(["type": .string("function"), "function": .object(["name": .string(name)])])
        }
    }
}

/// The known answer of a case.
public enum Expectation: Hashable, Sendable {
    /// A call to `tool` whose arguments match (listed keys only; others may be present).
    case toolCall(tool: String, arguments: [String: ArgumentMatcher])
    /// A plain answer with no tool call (the control case).
    case noToolCall
}

/// A named set of cases, from one file of `scoring/probes/`.
public struct ProbeSuite: Hashable, Sendable {
    public var name: String
    public var cases: [ProbeCase]

    public init(name: String, cases: [ProbeCase]) {
        self.name = name
        self.cases = cases
    }
}
