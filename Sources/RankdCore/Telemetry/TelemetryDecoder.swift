/// Reads `POST /v1/telemetry` bodies: one JSON record, a JSON array of records, or NDJSON (one
/// record per line). Each record is checked field by field; a bad record is rejected with its
/// index, the field and the reason, and the others are kept.
public enum TelemetryDecoder {
    public enum Format: Sendable {
        /// One object or an array of objects.
        case json
        /// One object per line; blank lines are skipped.
        case ndjson
    }

    public struct Batch: Sendable {
        /// Records that passed the field checks, with their index in the body.
        public var records: [(index: Int, record: TelemetryRecord)] = []
        public var rejected: [RecordRejection] = []
        /// Unknown fields seen (ignored), by name.
        public var ignoredFields: Set<String> = []
        /// Records in the body, good and bad.
        public var count: Int { records.count + rejected.count }
    }

    /// The body is not JSON at all (only for `.json`: an NDJSON line that is not JSON rejects that line).
    public struct Malformed: Error, Hashable, Sendable, CustomStringConvertible {
        public var offset: Int
        public var message: String
        public var description: String { "the body is not valid JSON: \(message) at byte \(offset)" }
    }

    /// Keys that would carry prompt or completion text: refused, so text never enters rankd.
    public static let contentFields: Set<String> = [
        "messages", "prompt", "completion", "content", "choices", "input", "output", "text", "prompt_text", "completion_text",
    ]

    public static let knownFields: [String] = [
        "request_id", "timestamp", "model", "provider", "endpoint_id", "status", "outcome", "ttft_ms", "latency_ms", "prompt_tokens",
        "completion_tokens", "tools_offered", "tool_call_valid", "finish_reason", "error_type", "retry_after_seconds",
    ]

    public static func decode(_ body: UnsafeBufferPointer<UInt8>, format: Format) throws(Malformed) -> Batch {
        var batch = Batch()
        switch format {
        case .json:
            var scanner = JSONScanner(body)
            do throws(JSONScanner.Failure) {
                if scanner.consume(UInt8(ascii: "[")) {
                    var index = 0
                    if !scanner.consume(UInt8(ascii: "]")) {
                        repeat {
                            try readRecord(&scanner, index: index, into: &batch)
                            index += 1
                        } while scanner.consume(UInt8(ascii: ","))
                        try scanner.expect(UInt8(ascii: "]"), "',' or ']'")
                    }
                } else {
                    try readRecord(&scanner, index: 0, into: &batch)
                }
                scanner.skipWhitespace()
                guard scanner.atEnd else { throw scanner.fail("unexpected data after the JSON value") }
            } catch {
                throw Malformed(offset: error.offset, message: error.message)
            }
        case .ndjson:
            var lineStart = 0
            var index = 0
            while lineStart < body.count {
                var lineEnd = lineStart
                while lineEnd < body.count && body[lineEnd] != 0x0A { lineEnd += 1 }
                var scanner = JSONScanner(body, from: lineStart, to: lineEnd)
                if scanner.peek() != nil {
                    do throws(JSONScanner.Failure) {
                        try readRecord(&scanner, index: index, into: &batch)
                        scanner.skipWhitespace()
                        if !scanner.atEnd { throw scanner.fail("unexpected data after the record") }
                    } catch {
                        batch.records.removeAll { $0.index == index }
                        batch.rejected.removeAll { $0.index == index }
                        batch.rejected.append(
                            RecordRejection(
                                index: index, field: "$",
                                reason: "line is not a JSON object: \(error.message) at byte \(error.offset - lineStart)"))
                    }
                    index += 1
                }
                lineStart = lineEnd + 1
            }
        }
        return batch
    }

    /// Reads one record object; a field problem rejects the record (the object is still read to
    /// its end, so the next record starts in the right place).
    static func readRecord(_ scanner: inout JSONScanner, index: Int, into batch: inout Batch) throws(JSONScanner.Failure) {
        guard scanner.peek() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            batch.rejected.append(RecordRejection(index: index, field: "$", reason: "a record must be a JSON object"))
            return
        }
        scanner.position += 1
        var fields = RecordFields()
        if !scanner.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try scanner.string()
                try scanner.expect(UInt8(ascii: ":"), "':'")
                let value = try scanner.scalar()
                fields.set(key, value, ignored: &batch.ignoredFields)
            } while scanner.consume(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"), "',' or '}'")
        }
        switch fields.finish() {
        case .success(let record): batch.records.append((index, record))
        case .failure(let problem): batch.rejected.append(RecordRejection(index: index, field: problem.field, reason: problem.reason))
        }
    }

    struct Problem: Error {
        var field: String
        var reason: String
    }

    /// Field values as read, checked as they arrive; the first problem wins.
    struct RecordFields {
        var record = TelemetryRecord(requestID: "", time: Timestamp(secondsSince1970: 0))
        var hasID = false
        var hasTime = false
        var problem: Problem?

        mutating func reject(_ field: String, _ reason: String) {
            if problem == nil { problem = Problem(field: field, reason: reason) }
        }

        mutating func set(_ key: String, _ value: JSONScanner.Scalar, ignored: inout Set<String>) {
            switch key {
            case "request_id":
                guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= 256 else {
                    return reject(key, "must be a non-empty string of at most 256 bytes (the gateway's request id)")
                }
                record.requestID = text
                hasID = true
            case "timestamp":
                switch value {
                case .string(let text):
                    guard let time = RFC3339.parse(text) else {
                        return reject(key, "must be an RFC 3339 time like 2026-11-25T06:00:00.123Z")
                    }
                    record.time = time
                case .number(let seconds) where seconds > 0 && seconds < 1e11:
                    record.time = Timestamp(secondsSince1970: seconds)
                default:
                    return reject(key, "must be an RFC 3339 string or Unix seconds")
                }
                hasTime = true
            case "model": record.model = text(key, value)
            case "provider": record.provider = text(key, value)
            case "endpoint_id": record.endpointID = text(key, value)
            case "status":
                guard case .number(let status) = value, status == status.rounded(), status >= 0, status <= 599 else {
                    return reject(key, "must be the HTTP status (100-599), or 0 for a transport error")
                }
                record.status = Int(status)
            case "outcome":
                guard case .string(let name) = value, let outcome = Outcome(rawValue: name) else {
                    return reject(key, "must be one of \(Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                record.outcome = outcome
            case "ttft_ms": record.ttftMilliseconds = milliseconds(key, value)
            case "latency_ms": record.latencyMilliseconds = milliseconds(key, value)
            case "prompt_tokens": record.promptTokens = count(key, value)
            case "completion_tokens": record.completionTokens = count(key, value)
            case "tools_offered":
                guard case .bool(let flag) = value else { return reject(key, "must be true or false") }
                record.toolsOffered = flag
            case "tool_call_valid":
                switch value {
                case .bool(let flag): record.toolCallValid = flag
                case .null: record.toolCallValid = nil
                default: reject(key, "must be true, false or null")
                }
            case "finish_reason": record.finishReason = optionalText(key, value)
            case "error_type": record.errorType = optionalText(key, value)
            case "retry_after_seconds":
                if value == .null { break }
                guard case .number(let seconds) = value, seconds >= 0, seconds <= 86_400 else {
                    reject(key, "must be the Retry-After in seconds (0 to 86400), or null")
                    break
                }
                record.retryAfterSeconds = seconds
            default:
                if TelemetryDecoder.contentFields.contains(key) {
                    reject(key, "looks like prompt or completion text, which rankd refuses: send metadata only")
                } else {
                    ignored.insert(key)
                }
            }
        }

        mutating func text(_ key: String, _ value: JSONScanner.Scalar) -> String? {
            guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= 256 else {
                reject(key, "must be a non-empty string of at most 256 bytes")
                return nil
            }
            return text
        }

        mutating func optionalText(_ key: String, _ value: JSONScanner.Scalar) -> String? {
            if value == .null { return nil }
            guard case .string(let text) = value, text.utf8.count <= 128 else {
                reject(key, "must be a short string (at most 128 bytes) or null")
                return nil
            }
            return text
        }

        mutating func milliseconds(_ key: String, _ value: JSONScanner.Scalar) -> Double? {
            if value == .null { return nil }
            guard case .number(let number) = value, number >= 0, number < 86_400_000 else {
                reject(key, "must be a number of milliseconds, 0 or more, or null")
                return nil
            }
            return number
        }

        mutating func count(_ key: String, _ value: JSONScanner.Scalar) -> Int? {
            if value == .null { return nil }
            guard case .number(let number) = value, number >= 0, number == number.rounded(), number < 1e12 else {
                reject(key, "must be a whole number, 0 or more, or null")
                return nil
            }
            return Int(number)
        }

        func finish() -> Result<TelemetryRecord, Problem> {
            if let problem { return .failure(problem) }
            if !hasID {
                return .failure(Problem(field: "request_id", reason: "is required: the gateway's id of the request (the idempotency key)"))
            }
            if !hasTime { return .failure(Problem(field: "timestamp", reason: "is required: when the request finished (RFC 3339)")) }
            if record.endpointID == nil {
                if record.model == nil { return .failure(Problem(field: "model", reason: "is required (or endpoint_id)")) }
                if record.provider == nil { return .failure(Problem(field: "provider", reason: "is required (or endpoint_id)")) }
            }
            return .success(record)
        }
    }
}
