import RankdCore
import Yams

/// YAML nodes to JSON values (for tool schemas and expected arguments): plain scalars become
/// booleans, nulls and numbers where they read as such; quoted scalars stay strings.
public enum YAMLJSON {
    /// Parses a YAML document into a JSON value (aliases resolved, `<<` merge keys applied).
    public static func parse(_ text: String) throws -> JSONValue {
        guard let node = try Yams.compose(yaml: text) else { return .null }
        return value(node)
    }

    public static func value(_ node: Node) -> JSONValue {
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
            for (key, child) in mapping where key.string != "<<" { object[key.string ?? "\(key)"] = value(child) }
            // A merge key adds the keys of the mapping it names that the mapping does not set itself.
            for (key, child) in mapping where key.string == "<<" {
                if case .object(let merged) = value(child) {
                    for (name, inherited) in merged where object[name] == nil { object[name] = inherited }
                }
            }
            return .object(object)
        default:
            return .null
        }
    }
}
