import Foundation
import RankdCore
import RankdConfig
import Yams

/// Reads a mock-provider scenario file:
///
/// ```yaml
/// providers:                       # starting profiles (keys as in MockProfile's JSON)
///   fastco: {ttft_ms: 180, tokens_per_second: 190}
///   slowco: {ttft_ms: 2500, tokens_per_second: 30}
/// schedule:                        # changes, seconds after start; `set` replaces the profile
///   - at_seconds: 60
///     provider: fastco
///     set: {ttft_ms: 180, tokens_per_second: 190, wrong_value: 0.25}
/// ```
public enum MockScenarioLoader {
    public static func load(path: String) throws -> MockScenario {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationErrors(problems: [ConfigProblem(file: path, path: "", message: "cannot be read; check the path")])
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml: String, file: String) throws -> MockScenario {
        let problems = ProblemList()
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw ConfigurationErrors(problems: [ConfigProblem(file: file, path: "", message: "is not valid YAML: \(error)")])
        }
        let fields = YAMLFields(root, file: file, path: "", problems: problems)
        var providers: [String: MockProfile] = [:]
        if case .mapping(let mapping)? = fields.node("providers") {
            for (key, node) in mapping {
                let name = key.string ?? "\(key)"
                if let profile = profile(node, path: "providers.\(name)", fields: fields) { providers[name] = profile }
            }
        } else {
            fields.report("providers", nil, "is required: a mapping of provider slug to profile, e.g. fastco: {ttft_ms: 180}")
        }
        var steps: [MockScenario.Step] = []
        for (index, node) in (fields.sequence("schedule") ?? []).enumerated() {
            let step = YAMLFields(node, file: file, path: "schedule[\(index)]", problems: problems)
            let at = step.double("at_seconds", default: 0, range: 0...604_800, unit: "seconds")
            let provider = step.string("provider", required: true) ?? ""
            if !provider.isEmpty && providers[provider] == nil {
                step.reportKey("provider", "\"\(provider)\" is not listed under providers:")
            }
            if let node = step.node("set"), let profile = profile(node, path: "schedule[\(index)].set", fields: step) {
                steps.append(MockScenario.Step(atSeconds: at, provider: provider, profile: profile))
            } else if !step.has("set") {
                step.reportKey("set", "is required: the provider's new profile")
            }
            step.finish()
        }
        fields.finish()
        guard problems.isEmpty else { throw ConfigurationErrors(problems: problems.problems) }
        return MockScenario(providers: providers, steps: steps)
    }

    private static func profile(_ node: Node, path: String, fields: YAMLFields) -> MockProfile? {
        let json = YAMLJSON.value(node)
        guard json.objectValue != nil, let profile = try? JSONDecoder().decode(MockProfile.self, from: Data(json.jsonText.utf8)) else {
            fields.report(path, node, "must be a profile mapping, e.g. {ttft_ms: 300, tokens_per_second: 60, wrong_value: 0.25}")
            return nil
        }
        for problem in profile.problems() { fields.report(path, node, problem) }
        let known = Set(MockProfile.CodingKeys.allKeyNames)
        for key in json.objectValue!.keys where !known.contains(key) {
            fields.report("\(path).\(key)", node, "is not a profile key; known: \(known.sorted().joined(separator: ", "))")
        }
        return profile
    }
}
