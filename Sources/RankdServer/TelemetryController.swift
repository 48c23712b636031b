import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RankdCore
import RankdPlatform

/// Why the ingest pipeline did not take a batch.
public enum IngestRefusal: Error, Sendable {
    /// The queue in front of the writer is full: answer 429 with Retry-After.
    case queueFull
    /// Shutting down.
    case stopped
    /// The commit failed (disk full, read-only file system, I/O error): nothing was accepted.
    case storage(String)
    /// PostgreSQL (`storage.postgres`) did not take the batch: nothing was accepted.
    case database(String)

    /// The answer for both ingest routes: nothing of the batch was accepted.
    func response(metrics: RankdMetrics) -> Response {
        switch self {
        case .queueFull:
            metrics.ingestRefused(reason: "queue_full")
            var response = JSONResponse.error(
                .tooManyRequests, code: "queue_full", "the ingest queue is full; retry after the Retry-After seconds (nothing was accepted)")
            response.headers[.retryAfter] = "1"
            return response
        case .stopped:
            return JSONResponse.error(.serviceUnavailable, code: "stopping", "rankd is shutting down; retry against the next instance")
        case .storage:
            metrics.ingestRefused(reason: "storage")
            var response = JSONResponse.error(
                .serviceUnavailable, code: "storage_unavailable",
                "rankd cannot write its data directory (disk full or read-only?); nothing was accepted: retry after the Retry-After seconds")
            response.headers[.retryAfter] = "5"
            return response
        case .database:
            metrics.ingestRefused(reason: "database")
            var response = JSONResponse.error(
                .serviceUnavailable, code: "database_unavailable",
                "PostgreSQL (storage.postgres) did not take the batch; nothing was accepted: retry after the Retry-After seconds")
            response.headers[.retryAfter] = "2"
            return response
        }
    }
}

/// A batch the pipeline committed.
public struct IngestCommitted: Sendable, Equatable {
    public var accepted: Int
    public var duplicates: Int

    public init(accepted: Int = 0, duplicates: Int = 0) {
        self.accepted = accepted
        self.duplicates = duplicates
    }
}

/// What the HTTP layer needs for ingest, injected by the daemon.
public struct IngestSink: Sendable {
    /// The ingest bearer token in force (a reload may change it); nil turns ingest off (403).
    public var token: String? { tokenSource() }
    private var tokenSource: @Sendable () -> String?
    /// Largest body read (413 above). Default 4 MiB.
    public var maxBodyBytes: Int
    /// Registry lookup and window checks, at the current time and dedupe window.
    public var resolve: @Sendable ([(index: Int, record: TelemetryRecord)]) -> TelemetryResolver.Resolution
    /// Commits (group commit) and returns once durable; throws `IngestRefusal`.
    public var submit: @Sendable ([(requestID: String, observation: Observation)]) async throws -> IngestCommitted
    /// The queue is nearly full: a batch is refused (429) before its body is read or decoded.
    public var nearlyFull: @Sendable () -> Bool

    public init(
        token: String?, maxBodyBytes: Int = 4 << 20,
        resolve: @escaping @Sendable ([(index: Int, record: TelemetryRecord)]) -> TelemetryResolver.Resolution,
        submit: @escaping @Sendable ([(requestID: String, observation: Observation)]) async throws -> IngestCommitted,
        nearlyFull: @escaping @Sendable () -> Bool = { false }
    ) {
        tokenSource = { token }
        self.maxBodyBytes = maxBodyBytes
        self.resolve = resolve
        self.submit = submit
        self.nearlyFull = nearlyFull
    }

    /// Reads the token from `live` at each request (the daemon's: a reload may change it).
    public init(
        live: LiveSettings, maxBodyBytes: Int = 4 << 20,
        resolve: @escaping @Sendable ([(index: Int, record: TelemetryRecord)]) -> TelemetryResolver.Resolution,
        submit: @escaping @Sendable ([(requestID: String, observation: Observation)]) async throws -> IngestCommitted,
        nearlyFull: @escaping @Sendable () -> Bool = { false }
    ) {
        self.init(token: nil, maxBodyBytes: maxBodyBytes, resolve: resolve, submit: submit, nearlyFull: nearlyFull)
        tokenSource = { live.ingestToken }
    }
}

/// `POST /v1/telemetry`: the gateway's request records (JSON, JSON array or NDJSON), metadata only.
public struct TelemetryController<Context: RequestContext>: Sendable {
    let sink: IngestSink
    let metrics: RankdMetrics

    public init(sink: IngestSink, metrics: RankdMetrics) {
        self.sink = sink
        self.metrics = metrics
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.post("telemetry") { request, _ in
            let body: ByteBuffer
            switch try await IngestRequest.read(request, sink: sink, metrics: metrics) {
            case .refused(let response): return response
            case .body(let buffer): body = buffer
            }
            let format: TelemetryDecoder.Format
            switch IngestRequest.mediaType(request) {
            case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines": format = .ndjson
            case "application/json", "": format = .json
            case let other:
                return JSONResponse.error(
                    .unsupportedMediaType, code: "unsupported_media_type",
                    "Content-Type \(other) is not read here: send application/json (one record or an array) or application/x-ndjson")
            }
            let decoded: TelemetryDecoder.Batch
            do {
                decoded = try body.withUnsafeReadableBytes { raw in
                    try TelemetryDecoder.decode(raw.bindMemory(to: UInt8.self), format: format)
                }
            } catch let malformed as TelemetryDecoder.Malformed {
                return JSONResponse.error(.badRequest, code: "invalid_json", "\(malformed); nothing was accepted")
            }
            let atomic = request.uri.queryParameters["atomic"].map { $0 == "true" || $0 == "1" } ?? false
            return try await IngestRequest.commit(
                api: "telemetry", decoded: decoded, atomic: atomic, sink: sink, metrics: metrics)
        }
        return routes
    }
}

/// The steps `/v1/telemetry` and `/v1/traces` share: authentication and size limit before
/// reading, and resolution, atomicity, commit and the answer after decoding.
enum IngestRequest {
    enum Read {
        case refused(Response)
        case body(ByteBuffer)
    }

    static func mediaType(_ request: Request) -> String {
        request.headers[.contentType].map {
            $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        } ?? ""
    }

    /// Checks the token (nothing is read without it), the queue and the size, then reads the body.
    /// Under overload most batches are refused here, for the cost of a header check: the server
    /// reads past their bodies without collecting or decoding them (`benchmarks/overload.sh`).
    static func read(_ request: Request, sink: IngestSink, metrics: RankdMetrics) async throws -> Read {
        if let denied = BearerToken.check(request, expected: sink.token, name: "tokens.ingest") {
            metrics.ingestRefused(reason: "unauthorized")
            return .refused(denied)
        }
        if sink.nearlyFull() { return .refused(IngestRefusal.queueFull.response(metrics: metrics)) }
        // Reading and decoding the body is bulk work: reads first (see `WorkerPriority`).
        WorkerPriority.lower()
        let tooLarge = JSONResponse.error(
            .contentTooLarge, code: "body_too_large",
            "the body is larger than \(sink.maxBodyBytes) bytes (ingest.max_body_bytes); send smaller batches")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > sink.maxBodyBytes {
            metrics.ingestRefused(reason: "too_large")
            return .refused(tooLarge)
        }
        let encoding = ContentEncoding.of(request)
        if case .unsupported(let codings) = encoding {
            metrics.ingestRefused(reason: "unsupported_encoding")
            var response = JSONResponse.error(
                .unsupportedMediaType, code: "unsupported_encoding",
                "Content-Encoding \(codings) is not read here: send gzip, deflate or an uncompressed body")
            // RFC 7694: the codings the server does accept.
            response.headers[.acceptEncoding] = "gzip, deflate"
            return .refused(response)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: sink.maxBodyBytes)
        } catch {
            metrics.ingestRefused(reason: "too_large")
            return .refused(tooLarge)
        }
        guard let format = encoding.format(of: body) else { return .body(body) }
        // The limit is on what the body inflates to, so a small body that inflates to gigabytes
        // (a zip bomb) is refused once it passes the limit, before it can take the memory.
        do {
            return .body(ByteBuffer(bytes: try Zlib.inflate(Data(body.readableBytesView), format: format, limit: sink.maxBodyBytes)))
        } catch let error as CompressionError where error.exceedsLimit {
            metrics.ingestRefused(reason: "too_large")
            return .refused(
                JSONResponse.error(
                    .contentTooLarge, code: "body_too_large",
                    "the body inflates to more than \(sink.maxBodyBytes) bytes (ingest.max_body_bytes); send smaller batches"))
        } catch {
            metrics.ingestRefused(reason: "bad_encoding")
            return .refused(
                JSONResponse.error(
                    .badRequest, code: "invalid_encoding",
                    "the body is not valid \(encoding.name) data (\(error)); nothing was accepted: check the Content-Encoding header"))
        }
    }

    /// The `Content-Encoding` of an ingest body: none, gzip or deflate (one coding; what OpenTelemetry
    /// exporters and HTTP clients send), or what the header says when it is none of those.
    enum ContentEncoding {
        case identity
        case gzip
        case deflate
        case unsupported(String)

        var name: String {
            switch self {
            case .identity: "identity"
            case .gzip: "gzip"
            case .deflate: "deflate"
            case .unsupported(let codings): codings
            }
        }

        /// How `body` is framed; nil when it is not compressed.
        func format(of body: ByteBuffer) -> Zlib.Format? {
            switch self {
            case .identity, .unsupported: return nil
            case .gzip: return .gzip
            case .deflate:
                // RFC 9110 names the zlib format (RFC 1950) "deflate", but some clients send raw
                // deflate (RFC 1951) under that name; a zlib header says deflate in its low four
                // bits and makes its first two bytes a multiple of 31.
                let bytes = body.readableBytesView
                guard bytes.count >= 2, let first = bytes.first else { return .raw }
                let second = bytes[bytes.index(after: bytes.startIndex)]
                let isZlib = first & 0x0f == 8 && (UInt16(first) << 8 | UInt16(second)) % 31 == 0
                return isZlib ? .zlib : .raw
            }
        }

        static func of(_ request: Request) -> ContentEncoding {
            let codings = request.headers[values: .contentEncoding]
                .flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                .filter { !$0.isEmpty && $0 != "identity" }
            switch codings {
            case []: return .identity
            case ["gzip"], ["x-gzip"]: return .gzip
            case ["deflate"]: return .deflate
            default: return .unsupported(codings.joined(separator: ", "))
            }
        }
    }

    static func commit(api: String, decoded: TelemetryDecoder.Batch, atomic: Bool, sink: IngestSink, metrics: RankdMetrics) async throws
        -> Response
    {
        let resolution = sink.resolve(decoded.records)
        let rejected = (decoded.rejected + resolution.rejected).sorted { $0.index < $1.index }
        metrics.ingestRecords(api: api, result: "rejected", count: rejected.count)
        if !rejected.isEmpty && (atomic || resolution.accepted.isEmpty) {
            let message =
                atomic
                ? "\(rejected.count) of \(decoded.count) records are invalid and atomic=true: nothing was accepted"
                : "no record could be accepted; see rejected"
            return JSONResponse.encode(
                IngestJSON.Answer(
                    accepted: 0, duplicates: 0, rejected: rejected.map(IngestJSON.Rejected.init),
                    unknownEndpoints: resolution.unknownEndpoints,
                    ignoredFields: decoded.ignoredFields.sorted(), error: .init(code: "invalid_records", message: message)),
                status: .badRequest)
        }
        let committed: IngestCommitted
        do {
            committed = try await sink.submit(resolution.accepted.map { ($0.requestID, $0.observation) })
        } catch let refusal as IngestRefusal {
            return refusal.response(metrics: metrics)
        }
        metrics.ingestRecords(api: api, result: "accepted", count: committed.accepted)
        metrics.ingestRecords(api: api, result: "duplicate", count: committed.duplicates)
        return JSONResponse.encode(
            IngestJSON.Answer(
                accepted: committed.accepted, duplicates: committed.duplicates, rejected: rejected.map(IngestJSON.Rejected.init),
                unknownEndpoints: resolution.unknownEndpoints, ignoredFields: decoded.ignoredFields.sorted(), error: nil))
    }
}

enum IngestJSON {
    struct Rejected: Encodable {
        var index: Int
        var field: String
        var reason: String

        init(_ rejection: RecordRejection) {
            index = rejection.index
            field = rejection.field
            reason = rejection.reason
        }
    }

    struct Answer: Encodable {
        var accepted: Int
        var duplicates: Int
        var rejected: [Rejected]
        var unknownEndpoints: [String: Int]
        var ignoredFields: [String]
        var error: JSONResponse.ErrorBody.Detail?

        enum CodingKeys: String, CodingKey {
            case accepted, duplicates, rejected, error
            case unknownEndpoints = "unknown_endpoints"
            case ignoredFields = "ignored_fields"
        }
    }
}
