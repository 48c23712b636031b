import RankdCore
import Yams

/// YAML nodes to JSON values (for tool schemas and expected arguments): plain scalars become
/// booleans, nulls and numbers where they read as such; quoted scalars stay strings.
enum YAMLJSON {
    static func value(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch scalar.string {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            case "null", "Null", "NULL", "~", "": return .null
            default: return Double(scalar.string).map(JSONValue.number) ?? .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(sequence.map(value))
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, child) in mapping { object[key.string ?? "\(key)"] = value(child) }
            return .object(object)
        default:
            return .null
        }
    }
}
