import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RankdCore
import RankdOTLP

/// `POST /v1/traces`: OTLP/HTTP trace exports, protobuf (`application/x-protobuf`, what most
/// OpenTelemetry SDKs send) or JSON (`application/json`). GenAI spans (OpenTelemetry GenAI
/// semantic conventions) become telemetry records; other spans are ignored and counted. The
/// answer is an `ExportTraceServiceResponse` in the request's encoding, with a partial success
/// naming how many GenAI spans were rejected and why.
public struct TracesController<Context: RequestContext>: Sendable {
    let sink: IngestSink
    let metrics: RankdMetrics

    public init(sink: IngestSink, metrics: RankdMetrics) {
        self.sink = sink
        self.metrics = metrics
    }

    enum Encoding {
        case protobuf
        case json
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.post("traces") { request, _ in
            let body: ByteBuffer
            switch try await IngestRequest.read(request, sink: sink, metrics: metrics) {
            case .refused(let response): return response
            case .body(let buffer): body = buffer
            }
            let encoding: Encoding
            switch IngestRequest.mediaType(request) {
            case "application/x-protobuf", "application/protobuf": encoding = .protobuf
            case "application/json": encoding = .json
            case let other:
                return JSONResponse.error(
                    .unsupportedMediaType, code: "unsupported_media_type",
                    "Content-Type \(other.isEmpty ? "(none)" : other) is not OTLP: send application/x-protobuf or application/json")
            }
            let spans: [(span: OTLPSpan, resource: [String: OTLPValue])]
            do {
                switch encoding {
                case .protobuf:
                    spans = try OTLPProtobuf.spans(Data(body.readableBytesView))
                case .json:
                    guard let json = JSONValue.parse(Data(body.readableBytesView)) else {
                        return JSONResponse.error(
                            .badRequest, code: "invalid_json", "the body is not JSON; send an OTLP ExportTraceServiceRequest")
                    }
                    spans = try OTLPJSONReader.spans(json)
                }
            } catch {
                return JSONResponse.error(.badRequest, code: "invalid_otlp", "\(error); nothing was accepted")
            }

            var records: [(index: Int, record: TelemetryRecord)] = []
            var rejected: [RecordRejection] = []
            var ignored = 0
            for (index, item) in spans.enumerated() {
                switch GenAISpanReader.read(item.span, resource: item.resource) {
                case .record(let record): records.append((index, record))
                case .notGenAI: ignored += 1
                case .invalid(let field, let reason): rejected.append(RecordRejection(index: index, field: field, reason: reason))
                }
            }
            metrics.ingestRecords(api: "traces", result: "ignored", count: ignored)
            let resolution = sink.resolve(records)
            rejected += resolution.rejected
            rejected.sort { $0.index < $1.index }
            metrics.ingestRecords(api: "traces", result: "rejected", count: rejected.count)

            let committed: IngestCommitted
            do {
                committed = try await sink.submit(resolution.accepted.map { ($0.requestID, $0.observation) })
            } catch let refusal as IngestRefusal {
                return refusal.response(metrics: metrics)
            }
            metrics.ingestRecords(api: "traces", result: "accepted", count: committed.accepted)
            metrics.ingestRecords(api: "traces", result: "duplicate", count: committed.duplicates)

            let message =
                rejected.prefix(5).map { "span \($0.index): \($0.field) \($0.reason)" }.joined(separator: "; ")
                + (rejected.count > 5 ? "; and \(rejected.count - 5) more" : "")
            switch encoding {
            case .protobuf:
                let data = try OTLPProtobuf.response(rejectedSpans: rejected.count, errorMessage: message)
                return Response(
                    status: .ok, headers: [.contentType: "application/x-protobuf"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
            case .json:
                if rejected.isEmpty { return JSONResponse.encode([String: String]()) }
                return JSONResponse.encode(
                    ["partialSuccess": ["rejectedSpans": String(rejected.count), "errorMessage": message]])
            }
        }
        return routes
    }
}
