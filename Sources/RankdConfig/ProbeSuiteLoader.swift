import Foundation
import RankdCore
import Yams

/// Reads probe suites from `scoring/probes/*.yaml` (format: docs/probe-suite.md), collecting every
/// problem with its file, line, key path and fix.
public enum ProbeSuiteLoader {
    static let matcherKeys: Set<String> = ["equals", "one_of", "range", "non_empty", "contains", "present"]

    public static func loadDirectory(_ directory: String, problems: ProblemList) -> [ProbeSuite] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            problems.add(
                ConfigProblem(file: directory, path: "probes_dir", message: "is not a readable folder; create it or remove probes_dir"))
            return []
        }
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().compactMap { name in
            let path = "\(directory)/\(name)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                problems.add(ConfigProblem(file: path, path: "", message: "cannot be read"))
                return nil
            }
            return parse(yaml: text, file: path, problems: problems)
        }
    }

    public static func parse(yaml: String, file: String, problems: ProblemList) -> ProbeSuite? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            problems.add(ConfigProblem(file: file, path: "", message: "is not valid YAML: \(error)"))
            return nil
        }
        let fields = YAMLFields(root, file: file, path: "", problems: problems)
        let name = fields.string("suite", required: true, hint: "name the suite, e.g. suite: tool-calling-core") ?? "unnamed"
        _ = fields.int("version", default: 1, range: 1...1)

        var tools: [String: ToolDefinition] = [:]
        let toolFields = fields.fields("tools")
        if case .mapping(let mapping)? = fields.node("tools") {
            for (key, _) in mapping {
                guard let toolName = key.string else { continue }
                let tool = toolFields.fields(toolName)
                let description = tool.string("description", required: true, hint: "say what the tool does") ?? ""
                let parameters = tool.node("parameters").map(YAMLJSON.value) ?? .null
                if parameters["type"] != .string("object") {
                    tool.reportKey("parameters", "must be a JSON Schema with type: object (the tool's arguments)")
                }
                if toolName.range(of: "^[A-Za-z0-9_-]{1,64}$", options: .regularExpression) == nil {
                    toolFields.reportKey(toolName, "is not a valid function name; use letters, digits, _ and - (at most 64)")
                }
                tool.finish()
                tools[toolName] = ToolDefinition(name: toolName, description: description, parameters: parameters)
            }
        }
        toolFields.finish()

        var cases: [ProbeCase] = []
        var seen = Set<String>()
        for (index, node) in (fields.sequence("cases") ?? []).enumerated() {
            let entry = YAMLFields(node, file: file, path: "cases[\(index)]", problems: problems)
            let id = entry.string("id", required: true, hint: "give each case a unique id") ?? "case-\(index)"
            if !seen.insert(id).inserted { entry.reportKey("id", "\"\(id)\" is used by an earlier case; ids must be unique") }
            let messages = readMessages(entry)
            let toolNames = entry.stringList("tools", default: [])
            var caseTools: [ToolDefinition] = []
            for (offset, toolName) in toolNames.enumerated() {
                if let tool = tools[toolName] {
                    caseTools.append(tool)
                } else {
                    entry.reportKey(
                        "tools", suffix: "[\(offset)]", "\"\(toolName)\" is not defined under tools:; define it or fix the name")
                }
            }
            let choiceText = entry.string("tool_choice") ?? "auto"
            let choice: ToolChoice
            switch choiceText {
            case "auto": choice = .auto
            case "required": choice = .required
            case "none": choice = .none
            default:
                choice = .function(choiceText)
                if !toolNames.contains(choiceText) {
                    entry.reportKey("tool_choice", "\"\(choiceText)\" must be auto, required, none or one of this case's tools")
                }
            }
            let stream = entry.bool("stream", default: true)
            let maxTokens = entry.int("max_tokens", default: 256, range: 1...32_768)
            let expectation = readExpectation(entry.fields("expect"), tools: caseTools)
            entry.finish()
            cases.append(
                ProbeCase(
                    id: id, messages: messages, tools: caseTools, toolChoice: choice, stream: stream, maxTokens: maxTokens,
                    expectation: expectation))
        }
        if cases.isEmpty { fields.report("cases", nil, "lists no cases; add at least one") }
        fields.finish()
        return ProbeSuite(name: name, cases: cases)
    }

    private static func readMessages(_ entry: YAMLFields) -> [ChatMessage] {
        var messages: [ChatMessage] = []
        let items = entry.sequence("messages") ?? []
        for (index, item) in items.enumerated() {
            let message = YAMLFields(item, file: entry.file, path: "\(entry.keyPath("messages"))[\(index)]", problems: entry.problems)
            // `- user: text` shorthand, or `- {role: user, content: text}`.
            if let role = ["system", "user", "assistant"].first(where: { message.has($0) }) {
                messages.append(ChatMessage(role: role, content: message.string(role) ?? ""))
            } else {
                let role = message.string("role", required: true, hint: "system, user or assistant") ?? "user"
                messages.append(ChatMessage(role: role, content: message.string("content", required: true) ?? ""))
            }
            message.finish()
        }
        if !messages.contains(where: { $0.role == "user" }) {
            entry.reportKey("messages", "needs at least one user message, e.g. - user: What is the weather in Paris?")
        }
        return messages
    }

    private static func readExpectation(_ expect: YAMLFields, tools: [ToolDefinition]) -> Expectation {
        defer { expect.finish() }
        if expect.bool("no_tool_call", default: false) {
            return .noToolCall
        }
        guard let tool = expect.string("tool", required: true, hint: "name the expected tool, or write no_tool_call: true") else {
            return .noToolCall
        }
        guard let definition = tools.first(where: { $0.name == tool }) else {
            expect.reportKey("tool", "\"\(tool)\" is not among this case's tools")
            return .toolCall(tool: tool, arguments: [:])
        }
        var arguments: [String: ArgumentMatcher] = [:]
        if case .mapping(let mapping)? = expect.node("arguments") {
            let properties = definition.parameters["properties"]?.objectValue ?? [:]
            for (key, value) in mapping {
                let name = key.string ?? "\(key)"
                if properties[name] == nil {
                    expect.report(
                        "\(expect.keyPath("arguments")).\(name)", value,
                        "is not a parameter of \(tool); its parameters: \(properties.keys.sorted().joined(separator: ", "))")
                }
                arguments[name] = matcher(value, path: "\(expect.keyPath("arguments")).\(name)", expect: expect)
            }
        }
        return .toolCall(tool: tool, arguments: arguments)
    }

    static func matcher(_ node: Node, path: String, expect: YAMLFields) -> ArgumentMatcher {
        guard case .mapping(let mapping) = node else { return .equals(YAMLJSON.value(node)) }
        let keys = mapping.map { $0.key.string ?? "" }
        if keys.count == 1, let key = keys.first, matcherKeys.contains(key), let value = mapping.first?.value {
            let json = YAMLJSON.value(value)
            switch key {
            case "equals": return .equals(json)
            case "one_of":
                guard let options = json.arrayValue, !options.isEmpty else { break }
                return .oneOf(options)
            case "range":
                guard let bounds = json.arrayValue?.compactMap(\.numberValue), bounds.count == 2, bounds[0] <= bounds[1] else { break }
                return .range(min: bounds[0], max: bounds[1])
            case "non_empty": return .nonEmpty
            case "contains":
                guard let text = json.stringValue else { break }
                return .contains(text)
            default: return .present
            }
            expect.report(path, value, "\(key) is malformed; write one_of: [a, b], range: [low, high] or contains: text")
            return .present
        }
        var fields: [String: ArgumentMatcher] = [:]
        for (key, value) in mapping { fields[key.string ?? ""] = matcher(value, path: "\(path).\(key.string ?? "")", expect: expect) }
        return .object(fields)
    }
}
