import Yams

/// A YAML mapping being read: typed accessors that record a problem (with key path, line and fix)
/// instead of throwing, so one pass reports everything. `finish()` reports unknown keys.
public final class YAMLFields {
    public let file: String
    public let path: String
    public let problems: ProblemList
    public let line: Int?
    private var entries: [(key: String, value: Node, line: Int?)] = []
    private var used: Set<String> = []

    public init(_ node: Node?, file: String, path: String, problems: ProblemList) {
        self.file = file
        self.path = path
        self.problems = problems
        self.line = node?.mark.map { $0.line }
        guard let node else { return }
        guard case .mapping(let mapping) = node else {
            report(path, node, "must be a mapping of keys to values")
            return
        }
        for (key, value) in mapping {
            entries.append((key.string ?? "\(key)", value, key.mark.map { $0.line }))
        }
    }

    public func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func report(_ keyPath: String, _ node: Node?, _ message: String) {
        problems.add(ConfigProblem(file: file, line: node?.mark.map { $0.line } ?? line, path: keyPath, message: message))
    }

    /// Reports a problem with `key` (optionally an element of it, e.g. `[2]`), at the key's own line.
    public func reportKey(_ key: String, suffix: String = "", _ message: String) {
        let entry = entries.first { $0.key == key }
        problems.add(
            ConfigProblem(
                file: file, line: entry?.value.mark.map { $0.line } ?? entry?.line ?? line, path: keyPath(key) + suffix, message: message))
    }

    public func node(_ key: String) -> Node? {
        used.insert(key)
        guard let value = entries.first(where: { $0.key == key })?.value else { return nil }
        if case .scalar(let scalar) = value, scalar.string == "~" || (scalar.string.isEmpty && scalar.style == .plain) {
            return nil
        }
        return value
    }

    public func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    public func string(_ key: String, required: Bool = false, hint: String = "") -> String? {
        guard let value = node(key) else {
            if required { report(keyPath(key), nil, "is required\(hint.isEmpty ? "" : "; \(hint)")") }
            return nil
        }
        guard case .scalar(let scalar) = value else {
            report(keyPath(key), value, "must be a string")
            return nil
        }
        return scalar.string
    }

    public func double(_ key: String, default fallback: Double, range: ClosedRange<Double>, unit: String = "") -> Double {
        guard let value = node(key) else { return fallback }
        guard case .scalar(let scalar) = value, let number = Double(scalar.string), number.isFinite else {
            report(keyPath(key), value, "must be a number\(unit.isEmpty ? "" : " of \(unit)"), e.g. \(format(fallback))")
            return fallback
        }
        guard range.contains(number) else {
            report(
                keyPath(key), value,
                "is \(format(number)); it must be between \(format(range.lowerBound)) and \(format(range.upperBound))\(unit.isEmpty ? "" : " \(unit)")"
            )
            return fallback
        }
        return number
    }

    public func int(_ key: String, default fallback: Int, range: ClosedRange<Int>, unit: String = "") -> Int {
        guard let value = node(key) else { return fallback }
        guard case .scalar(let scalar) = value, let number = Int(scalar.string) else {
            report(keyPath(key), value, "must be a whole number\(unit.isEmpty ? "" : " of \(unit)"), e.g. \(fallback)")
            return fallback
        }
        guard range.contains(number) else {
            report(
                keyPath(key), value,
                "is \(number); it must be between \(range.lowerBound) and \(range.upperBound)\(unit.isEmpty ? "" : " \(unit)")")
            return fallback
        }
        return number
    }

    public func optionalInt(_ key: String, range: ClosedRange<Int>) -> Int? {
        guard has(key), node(key) != nil else {
            used.insert(key)
            return nil
        }
        return int(key, default: range.lowerBound, range: range)
    }

    public func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let value = node(key) else { return fallback }
        guard case .scalar(let scalar) = value, let flag = Bool(scalar.string.lowercased()) else {
            report(keyPath(key), value, "must be true or false")
            return fallback
        }
        return flag
    }

    public func stringList(_ key: String, default fallback: [String]) -> [String] {
        guard let value = node(key) else { return fallback }
        guard case .sequence(let sequence) = value else {
            report(keyPath(key), value, "must be a list, e.g. [\(fallback.joined(separator: ", "))]")
            return fallback
        }
        var result: [String] = []
        for (index, item) in sequence.enumerated() {
            guard case .scalar(let scalar) = item else {
                report("\(keyPath(key))[\(index)]", item, "must be a string")
                continue
            }
            result.append(scalar.string)
        }
        return result
    }

    public func fields(_ key: String) -> YAMLFields {
        YAMLFields(node(key), file: file, path: keyPath(key), problems: problems)
    }

    public func sequence(_ key: String) -> [Node]? {
        guard let value = node(key) else { return nil }
        guard case .sequence(let sequence) = value else {
            report(keyPath(key), value, "must be a list")
            return nil
        }
        return Array(sequence)
    }

    /// Reports keys that were never asked for, with the nearest known key as a suggestion.
    public func finish() {
        for entry in entries where !used.contains(entry.key) {
            let suggestion = used.min { editDistance($0, entry.key) < editDistance($1, entry.key) }
            var message = "is not a known key"
            if let suggestion, editDistance(suggestion, entry.key) <= max(2, entry.key.count / 3) {
                message += "; did you mean \(suggestion)?"
            } else {
                message += "; known keys here: \(used.sorted().joined(separator: ", "))"
            }
            problems.add(ConfigProblem(file: file, line: entry.line, path: keyPath(entry.key), message: message))
        }
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
