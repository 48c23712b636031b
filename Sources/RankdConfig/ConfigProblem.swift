/// One thing wrong with a configuration, policy, benchmark or probe file: where, and how to fix it.
public struct ConfigProblem: Hashable, Sendable, CustomStringConvertible, Error {
    public var file: String
    /// 1-based line, when known.
    public var line: Int?
    /// Key path inside the file, e.g. `endpoints[2].base_url`.
    public var path: String
    /// What is wrong and the fix.
    public var message: String

    public init(file: String, line: Int? = nil, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// Collects problems across files so that every one is reported in one pass.
public final class ProblemList: @unchecked Sendable {
    // Only used from one thread while a configuration loads.
    public private(set) var problems: [ConfigProblem] = []

    public init() {}

    public func add(_ problem: ConfigProblem) { problems.append(problem) }

    public var isEmpty: Bool { problems.isEmpty }
}
