import Foundation

/// What a probe case expects of one argument: an exact value or a looser matcher.
public indirect enum ArgumentMatcher: Hashable, Sendable {
    /// Equal value; strings compare trimmed and case-insensitively, numbers within 1e-9.
    case equals(JSONValue)
    case oneOf([JSONValue])
    /// A number within `min...max` (inclusive).
    case range(min: Double, max: Double)
    /// A string, array or object that is not empty.
    case nonEmpty
    /// A string containing the text (case-insensitive).
    case contains(String)
    /// An object whose listed keys match; other keys are allowed.
    case object([String: ArgumentMatcher])
    /// Anything, as long as it is present.
    case present

    public func matches(_ value: JSONValue) -> Bool {
        switch self {
        case .equals(let expected): return Self.equal(value, expected)
        case .oneOf(let options): return options.contains { Self.equal(value, $0) }
        case .range(let low, let high):
            guard let number = value.numberValue else { return false }
            return number >= low && number <= high
        case .nonEmpty:
            switch value {
            case .string(let text): return !text.trimmingCharacters(in: .whitespaces).isEmpty
            case .array(let items): return !items.isEmpty
            case .object(let object): return !object.isEmpty
            default: return false
            }
        case .contains(let text):
            return value.stringValue?.lowercased().contains(text.lowercased()) ?? false
        case .object(let fields):
            guard let object = value.objectValue else { return false }
            return fields.allSatisfy { key, matcher in object[key].map(matcher.matches) ?? false }
        case .present:
            return true
        }
    }

    /// A value that matches (the mock provider answers with it).
    public var example: JSONValue {
        switch self {
        case .equals(let value): value
        case .oneOf(let options): options.first ?? .null
        case .range(let low, let high): .number(Self.middle(low, high))
        case .nonEmpty: .string("example")
        case .contains(let text): .string(text)
        case .object(let fields): .object(fields.mapValues(\.example))
        case .present: .string("example")
        }
    }

    /// The middle of a range, rounded to a whole number when that stays inside it.
    static func middle(_ low: Double, _ high: Double) -> Double {
        let middle = (low + high) / 2
        return (low...high).contains(middle.rounded()) ? middle.rounded() : middle
    }

    static func equal(_ value: JSONValue, _ expected: JSONValue) -> Bool {
        switch (value, expected) {
        case let (.string(a), .string(b)):
            return a.trimmingCharacters(in: .whitespaces).lowercased() == b.trimmingCharacters(in: .whitespaces).lowercased()
        case let (.number(a), .number(b)):
            return abs(a - b) <= 1e-9 * max(1, abs(b))
        case let (.array(a), .array(b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case let (.object(a), .object(b)):
            return a.count == b.count && b.allSatisfy { key, expected in a[key].map { equal($0, expected) } ?? false }
        default:
            return value == expected
        }
    }
}
