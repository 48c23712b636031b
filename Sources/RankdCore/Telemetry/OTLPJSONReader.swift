/// Reads an OTLP/HTTP JSON trace export (`ExportTraceServiceRequest` in the protobuf JSON
/// mapping, lowerCamelCase keys; snake_case accepted too): ids are hex, 64-bit integers may be
/// strings, enums are numbers.
public enum OTLPJSONReader {
    public struct Malformed: Error, Hashable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Every span with its resource's attributes, in export order.
    public static func spans(_ body: JSONValue) throws(Malformed) -> [(span: OTLPSpan, resource: [String: OTLPValue])] {
        guard case .object(let root) = body else { throw Malformed(message: "the body must be an ExportTraceServiceRequest object") }
        var result: [(OTLPSpan, [String: OTLPValue])] = []
        for resourceSpans in field(root, "resourceSpans", "resource_spans")?.arrayValue ?? [] {
            guard case .object(let object) = resourceSpans else { throw Malformed(message: "resourceSpans must hold objects") }
            let resource = attributes(field(object, "resource")?.objectValue.flatMap { field($0, "attributes") })
            for scopeSpans in field(object, "scopeSpans", "scope_spans")?.arrayValue ?? [] {
                for spanValue in scopeSpans.objectValue.flatMap({ field($0, "spans") })?.arrayValue ?? [] {
                    guard case .object(let span) = spanValue else { throw Malformed(message: "spans must hold objects") }
                    let status = field(span, "status")?.objectValue ?? [:]
                    result.append(
                        (
                            OTLPSpan(
                                traceID: (field(span, "traceId", "trace_id")?.stringValue ?? "").lowercased(),
                                spanID: (field(span, "spanId", "span_id")?.stringValue ?? "").lowercased(),
                                name: field(span, "name")?.stringValue ?? "",
                                startNanos: nanos(field(span, "startTimeUnixNano", "start_time_unix_nano")),
                                endNanos: nanos(field(span, "endTimeUnixNano", "end_time_unix_nano")),
                                attributes: attributes(field(span, "attributes")),
                                statusCode: Int(saturating: field(status, "code")?.numberValue ?? 0),
                                statusMessage: field(status, "message")?.stringValue ?? ""),
                            resource
                        ))
                }
            }
        }
        return result
    }

    static func field(_ object: [String: JSONValue], _ names: String...) -> JSONValue? {
        for name in names { if let value = object[name] { return value } }
        return nil
    }

    static func nanos(_ value: JSONValue?) -> UInt64 {
        switch value {
        case .string(let text)?: UInt64(text) ?? 0
        case .number(let number)? where number >= 0: UInt64(saturating: number)
        default: 0
        }
    }

    static func attributes(_ value: JSONValue?) -> [String: OTLPValue] {
        var result: [String: OTLPValue] = [:]
        for item in value?.arrayValue ?? [] {
            guard let object = item.objectValue, let key = object["key"]?.stringValue else { continue }
            result[key] = anyValue(object["value"])
        }
        return result
    }

    static func anyValue(_ value: JSONValue?) -> OTLPValue {
        guard let object = value?.objectValue else { return .other }
        if let text = field(object, "stringValue", "string_value")?.stringValue { return .string(text) }
        if case .bool(let flag)? = field(object, "boolValue", "bool_value") { return .bool(flag) }
        if let int = field(object, "intValue", "int_value") {
            switch int {
            case .string(let text): return Int64(text).map(OTLPValue.int) ?? .other
            case .number(let number): return .int(Int64(saturating: number))
            default: return .other
            }
        }
        if let double = field(object, "doubleValue", "double_value")?.numberValue { return .double(double) }
        if let array = field(object, "arrayValue", "array_value")?.objectValue {
            return .array((array["values"]?.arrayValue ?? []).map { anyValue($0) })
        }
        return .other
    }
}
