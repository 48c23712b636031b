import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// What the daemon does with benchmark scores, injected so the HTTP layer does not depend on the
/// ranker, the store or the configuration's CSV reader.
public struct BenchmarkSource: Sendable {
    /// Reads a body (CSV when `csv`, else JSON), checks every score against the registry, and
    /// when all are good replaces the admin API's set and publishes an epoch with it. A failure
    /// lists every problem; then nothing was stored.
    public var replace:
        @Sendable (_ body: String, _ csv: Bool, _ author: String?, _ note: String?) async throws -> Result<
            (BenchmarkUpload, Epoch), RouteRequestParser.FieldErrors
        >
    /// The scores in force and the last `uploads` uploads.
    public var list: @Sendable (_ uploads: Int) async throws -> BenchmarkListing

    public init(
        replace: @escaping @Sendable (String, Bool, String?, String?) async throws -> Result<(BenchmarkUpload, Epoch), RouteRequestParser.FieldErrors>,
        list: @escaping @Sendable (Int) async throws -> BenchmarkListing
    ) {
        self.replace = replace
        self.list = list
    }
}

/// `PUT /v1/admin/benchmarks` (admin token: replaces the API's benchmark scores, CSV or JSON) and
/// `GET /v1/benchmarks` (the scores in force, their age and weight, and the uploads).
public struct BenchmarkController<Context: RequestContext>: Sendable {
    let source: BenchmarkSource
    let live: LiveSettings
    /// Bodies up to this size (a CSV line is about 100 bytes: tens of thousands of scores).
    static var maxBodyBytes: Int { 4 << 20 }

    public init(source: BenchmarkSource, live: LiveSettings) {
        self.source = source
        self.live = live
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.put("admin/benchmarks") { request, _ in
            if let denied = BearerToken.check(request, expected: live.adminToken, name: "tokens.admin") { return denied }
            let type = request.headers[.contentType]?.lowercased() ?? ""
            let csv = type.hasPrefix("text/csv")
            guard csv || type.hasPrefix("application/json") else {
                return JSONResponse.error(
                    .unsupportedMediaType, code: "unsupported_media_type",
                    "send the scores as text/csv (endpoint_id,benchmark,score,source,date, as in scoring/benchmarks) or application/json ({\"scores\": [...]})"
                )
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: Self.maxBodyBytes)
            } catch {
                return JSONResponse.error(
                    .contentTooLarge, code: "body_too_large", "the body is over \(Self.maxBodyBytes) bytes; send fewer scores per upload")
            }
            guard let text = String(bytes: body.readableBytesView, encoding: .utf8) else {
                return JSONResponse.error(.badRequest, code: "invalid_encoding", "the body is not UTF-8 text")
            }
            let query = request.uri.queryParameters
            switch try await source.replace(text, csv, query["author"].map(String.init), query["note"].map(String.init)) {
            case .failure(let problems):
                return JSONResponse.invalid(problems)
            case .success(let (upload, epoch)):
                return JSONResponse.encode(BenchmarkJSON.Replaced(upload: .init(upload), epoch: .init(epoch)))
            }
        }
        routes.get("benchmarks") { request, _ in
            let given = request.uri.queryParameters["uploads"].map(String.init)
            guard let limit = given.map({ Int($0) }) ?? 20, (0...1_000).contains(limit) else {
                return JSONResponse.error(.badRequest, code: "invalid_uploads", "uploads must be a whole number from 0 to 1000")
            }
            return JSONResponse.encode(BenchmarkJSON.Listing(try await source.list(limit)))
        }
        return routes
    }
}

enum BenchmarkJSON {
    struct Upload: Encodable {
        var id: Int64
        var at: String
        var author: String?
        var note: String?
        var scores: Int
        var replaced: Int

        init(_ upload: BenchmarkUpload) {
            (id, author, note, scores, replaced) = (upload.id, upload.author, upload.note, upload.scores, upload.replaced)
            at = RFC3339.format(upload.at)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(at, forKey: .at)
            try c.encode(author, forKey: .author)
            try c.encode(note, forKey: .note)
            try c.encode(scores, forKey: .scores)
            try c.encode(replaced, forKey: .replaced)
        }

        enum CodingKeys: String, CodingKey { case id, at, author, note, scores, replaced }
    }

    struct Replaced: Encodable {
        var upload: Upload
        var epoch: EpochJSON.EpochHeader
    }

    struct Score: Encodable {
        var endpointID: String
        var benchmark: String
        var score: Double
        var source: String
        var date: String
        var origin: String
        var ageDays: Double
        var freshness: Double

        enum CodingKeys: String, CodingKey {
            case benchmark, score, source, date, origin, freshness
            case endpointID = "endpoint_id"
            case ageDays = "age_days"
        }
    }

    struct Combined: Encodable {
        var value: Double
        var freshness: Double
    }

    struct Listing: Encodable {
        var maxAgeDays: Double
        var scores: [Score]
        /// Per endpoint: what the benchmark component is (the scores' mean weighted by freshness)
        /// and the share of its weight it keeps.
        var combined: [String: Combined]
        var uploads: [Upload]

        init(_ listing: BenchmarkListing) {
            maxAgeDays = listing.maxAgeDays
            scores = listing.scores.map { score, origin in
                Score(
                    endpointID: score.endpointID, benchmark: score.benchmark, score: score.score, source: score.source,
                    date: RFC3339.format(score.measuredAt), origin: origin,
                    ageDays: ((max(0, listing.asOf.secondsSince1970 - score.measuredAt.secondsSince1970) / 86_400) * 100).rounded() / 100,
                    freshness: score.freshness(at: listing.asOf, maxAgeDays: listing.maxAgeDays))
            }
            combined = BenchmarkScore.figures(listing.scores.map(\.score), at: listing.asOf, maxAgeDays: listing.maxAgeDays).mapValues {
                Combined(value: $0.value, freshness: $0.freshness)
            }
            uploads = listing.uploads.map(Upload.init)
        }

        enum CodingKeys: String, CodingKey {
            case scores, combined, uploads
            case maxAgeDays = "max_age_days"
        }
    }
}
