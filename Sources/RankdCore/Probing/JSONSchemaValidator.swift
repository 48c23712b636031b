import Foundation

/// Validates a value against the JSON Schema (Draft 7) subset that tool definitions use: `type`
/// (one or a list), `properties`, `required`, `additionalProperties: false`, `enum`, `const`,
/// `items`, `minimum`/`maximum` (and exclusive), `minLength`/`maxLength`, `pattern`,
/// `minItems`/`maxItems`, `anyOf`/`oneOf`/`allOf`. Unknown keywords are ignored, as validators do.
public enum JSONSchemaValidator {
    /// Every violation as "path: problem"; empty when the value satisfies the schema.
    public static func violations(of value: JSONValue, against schema: JSONValue, path: String = "$") -> [String] {
        guard case .object(let rules) = schema else { return [] }
        var found: [String] = []

        if let type = rules["type"] {
            let allowed = (type.arrayValue ?? [type]).compactMap(\.stringValue)
            let actual = value.schemaType
            let ok = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !allowed.isEmpty && !ok {
                return ["\(path): expected \(allowed.joined(separator: " or ")), got \(actual)"]
            }
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(value) {
            found.append("\(path): \(value) is not one of \(JSONValue.array(options))")
        }
        if let constant = rules["const"], constant != value {
            found.append("\(path): must be \(constant)")
        }
        switch value {
        case .object(let object):
            let properties = rules["properties"]?.objectValue ?? [:]
            for name in (rules["required"]?.arrayValue ?? []).compactMap(\.stringValue) where object[name] == nil {
                found.append("\(path): missing required property \(name)")
            }
            for (name, child) in object.sorted(by: { $0.key < $1.key }) {
                if let childSchema = properties[name] {
                    found += violations(of: child, against: childSchema, path: "\(path).\(name)")
                } else if rules["additionalProperties"] == .bool(false) {
                    found.append("\(path): unexpected property \(name)")
                } else if let extra = rules["additionalProperties"], case .object = extra {
                    found += violations(of: child, against: extra, path: "\(path).\(name)")
                }
            }
        case .array(let items):
            if let itemSchema = rules["items"] {
                for (index, item) in items.enumerated() { found += violations(of: item, against: itemSchema, path: "\(path)[\(index)]") }
            }
            if let minimum = rules["minItems"]?.numberValue, Double(items.count) < minimum {
                found.append("\(path): fewer than \(Int(saturating: minimum)) items")
            }
            if let maximum = rules["maxItems"]?.numberValue, Double(items.count) > maximum {
                found.append("\(path): more than \(Int(saturating: maximum)) items")
            }
        case .number(let number):
            if let minimum = rules["minimum"]?.numberValue, number < minimum { found.append("\(path): \(number) is below \(minimum)") }
            if let maximum = rules["maximum"]?.numberValue, number > maximum { found.append("\(path): \(number) is above \(maximum)") }
            if let minimum = rules["exclusiveMinimum"]?.numberValue, number <= minimum {
                found.append("\(path): \(number) is not above \(minimum)")
            }
            if let maximum = rules["exclusiveMaximum"]?.numberValue, number >= maximum {
                found.append("\(path): \(number) is not below \(maximum)")
            }
        case .string(let text):
            if let minimum = rules["minLength"]?.numberValue, Double(text.count) < minimum {
                found.append("\(path): shorter than \(Int(saturating: minimum))")
            }
            if let maximum = rules["maxLength"]?.numberValue, Double(text.count) > maximum {
                found.append("\(path): longer than \(Int(saturating: maximum))")
            }
            if let pattern = rules["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                found.append("\(path): does not match \(pattern)")
            }
        default:
            break
        }
        if let all = rules["allOf"]?.arrayValue {
            for sub in all { found += violations(of: value, against: sub, path: path) }
        }
        if let any = rules["anyOf"]?.arrayValue, !any.isEmpty,
            !any.contains(where: { violations(of: value, against: $0, path: path).isEmpty })
        {
            found.append("\(path): matches none of anyOf")
        }
        if let one = rules["oneOf"]?.arrayValue, !one.isEmpty,
            one.filter({ violations(of: value, against: $0, path: path).isEmpty }).count != 1
        {
            found.append("\(path): does not match exactly one of oneOf")
        }
        return found
    }
}
