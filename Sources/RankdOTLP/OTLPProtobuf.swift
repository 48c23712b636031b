import Foundation
import RankdCore
import SwiftProtobuf

/// OTLP/HTTP protobuf trace exports (`application/x-protobuf`), read with the generated messages
/// of `proto/otlp_trace_subset.proto`.
public enum OTLPProtobuf {
    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    typealias Request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
    typealias Response = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
    typealias AnyValue = Opentelemetry_Proto_Collector_Trace_V1_AnyValue
    typealias KeyValue = Opentelemetry_Proto_Collector_Trace_V1_KeyValue

    /// Every span with its resource's attributes, in export order.
    public static func spans(_ body: Data) throws -> [(span: OTLPSpan, resource: [String: OTLPValue])] {
        let request: Request
        do {
            request = try Request(serializedBytes: body)
        } catch {
            throw Malformed(message: "the body is not an OTLP ExportTraceServiceRequest in protobuf: \(error)")
        }
        var result: [(OTLPSpan, [String: OTLPValue])] = []
        for resourceSpans in request.resourceSpans {
            let resource = attributes(resourceSpans.resource.attributes)
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    result.append(
                        (
                            OTLPSpan(
                                traceID: hex(span.traceID), spanID: hex(span.spanID), name: span.name, startNanos: span.startTimeUnixNano,
                                endNanos: span.endTimeUnixNano, attributes: attributes(span.attributes),
                                statusCode: span.status.code.rawValue, statusMessage: span.status.message),
                            resource
                        ))
                }
            }
        }
        return result
    }

    /// The export response: empty when every span was taken, else a partial success.
    public static func response(rejectedSpans: Int, errorMessage: String) throws -> Data {
        var response = Response()
        if rejectedSpans > 0 || !errorMessage.isEmpty {
            response.partialSuccess.rejectedSpans = Int64(rejectedSpans)
            response.partialSuccess.errorMessage = errorMessage
        }
        return try response.serializedBytes()
    }

    /// An export request, for tests and load generators.
    public static func request(_ spans: [(span: OTLPSpan, resource: [String: OTLPValue])]) throws -> Data {
        var request = Request()
        for (span, resource) in spans {
            var resourceSpans = Opentelemetry_Proto_Collector_Trace_V1_ResourceSpans()
            resourceSpans.resource.attributes = keyValues(resource)
            var scope = Opentelemetry_Proto_Collector_Trace_V1_ScopeSpans()
            var message = Opentelemetry_Proto_Collector_Trace_V1_Span()
            message.traceID = bytes(hex: span.traceID)
            message.spanID = bytes(hex: span.spanID)
            message.name = span.name
            message.startTimeUnixNano = span.startNanos
            message.endTimeUnixNano = span.endNanos
            message.attributes = keyValues(span.attributes)
            message.status.code = .init(rawValue: span.statusCode) ?? .unset
            message.status.message = span.statusMessage
            scope.spans = [message]
            resourceSpans.scopeSpans = [scope]
            request.resourceSpans.append(resourceSpans)
        }
        return try request.serializedBytes()
    }

    /// Decodes an export response (for tests): (rejected spans, error message).
    public static func partialSuccess(_ body: Data) throws -> (Int, String) {
        let response = try Response(serializedBytes: body)
        return (Int(response.partialSuccess.rejectedSpans), response.partialSuccess.errorMessage)
    }

    static func attributes(_ list: [KeyValue]) -> [String: OTLPValue] {
        var result: [String: OTLPValue] = [:]
        for item in list { result[item.key] = value(item.value) }
        return result
    }

    static func value(_ any: AnyValue) -> OTLPValue {
        switch any.value {
        case .stringValue(let text)?: .string(text)
        case .boolValue(let flag)?: .bool(flag)
        case .intValue(let number)?: .int(number)
        case .doubleValue(let number)?: .double(number)
        case .arrayValue(let array)?: .array(array.values.map(value))
        default: .other
        }
    }

    static func keyValues(_ attributes: [String: OTLPValue]) -> [KeyValue] {
        attributes.sorted { $0.key < $1.key }.map { key, value in
            var item = KeyValue()
            item.key = key
            item.value = anyValue(value)
            return item
        }
    }

    static func anyValue(_ value: OTLPValue) -> AnyValue {
        var any = AnyValue()
        switch value {
        case .string(let text): any.stringValue = text
        case .bool(let flag): any.boolValue = flag
        case .int(let number): any.intValue = number
        case .double(let number): any.doubleValue = number
        case .array(let values):
            var array = Opentelemetry_Proto_Collector_Trace_V1_ArrayValue()
            array.values = values.map(anyValue)
            any.arrayValue = array
        case .other: break
        }
        return any
    }

    static func hex(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(data.count * 2)
        for byte in data {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func bytes(hex: String) -> Data {
        var data = Data()
        var high: UInt8?
        for character in hex.utf8 {
            let nibble: UInt8
            switch character {
            case 0x30...0x39: nibble = character - 0x30
            case 0x61...0x66: nibble = character - 0x61 + 10
            case 0x41...0x46: nibble = character - 0x41 + 10
            default: continue
            }
            if let first = high {
                data.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return data
    }
}
