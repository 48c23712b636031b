/// An external quality score for one endpoint, e.g. a tool-call accuracy evaluation.
public struct BenchmarkScore: Hashable, Codable, Sendable {
    public var endpointID: String
    /// Name of the benchmark, e.g. `tau2-airline`.
    public var benchmark: String
    /// Normalised score in 0...1.
    public var score: Double
    /// Who measured it (a URL or a name).
    public var source: String
    /// When it was measured.
    public var measuredAt: Timestamp

    public init(endpointID: String, benchmark: String, score: Double, source: String, measuredAt: Timestamp) {
        self.endpointID = endpointID
        self.benchmark = benchmark
        self.score = score
        self.source = source
        self.measuredAt = measuredAt
    }

    /// What makes a score one of a kind: its endpoint and benchmark (a later one replaces it).
    public var key: String { "\(endpointID)\u{0}\(benchmark)" }

    /// One figure per endpoint: the mean of its benchmarks' scores.
    public static func combined(_ scores: [BenchmarkScore]) -> [String: Double] {
        Dictionary(grouping: scores, by: \.endpointID).mapValues { group in
            group.map(\.score).reduce(0, +) / Double(group.count)
        }
    }

    /// How much of its part a score keeps at `now`: 1 when measured, falling linearly to 0 at
    /// `maxAgeDays` (policy `benchmarks.max_age_days`; 0: always 1). A date ahead counts as now.
    public func freshness(at now: Timestamp, maxAgeDays: Double) -> Double {
        guard maxAgeDays > 0 else { return 1 }
        let ageDays = max(0, now.secondsSince1970 - measuredAt.secondsSince1970) / 86_400
        return min(1, max(0, 1 - ageDays / maxAgeDays))
    }

    /// Per endpoint at `now`: the scores' mean weighted by freshness, and the mean freshness (the
    /// share of the benchmark component's weight it keeps). Endpoints whose scores have all faded
    /// have none.
    public static func figures(_ scores: [BenchmarkScore], at now: Timestamp, maxAgeDays: Double) -> [String: BenchmarkFigure] {
        var result: [String: BenchmarkFigure] = [:]
        for (id, group) in Dictionary(grouping: scores, by: \.endpointID) {
            let weights = group.map { $0.freshness(at: now, maxAgeDays: maxAgeDays) }
            let total = weights.reduce(0, +)
            guard total > 0 else { continue }
            let value = zip(group, weights).reduce(0) { $0 + $1.0.score * $1.1 } / total
            result[id] = BenchmarkFigure(value: value, freshness: total / Double(group.count))
        }
        return result
    }
}

/// An endpoint's benchmark component at one time: its value (0...1) and the share of the
/// component's weight it keeps as its scores age (0...1].
public struct BenchmarkFigure: Hashable, Sendable {
    public var value: Double
    public var freshness: Double

    public init(value: Double, freshness: Double = 1) {
        self.value = value
        self.freshness = freshness
    }
}

/// One `PUT /v1/admin/benchmarks`: who, when, how many scores, and the scores as uploaded (kept
/// forever: the audit trail, like operator overrides).
public struct BenchmarkUpload: Hashable, Sendable {
    public var id: Int64
    public var at: Timestamp
    public var author: String?
    public var note: String?
    /// Scores in this upload.
    public var scores: Int
    /// Scores of the set before it that it replaced.
    public var replaced: Int
    /// The scores as CSV (`endpoint_id,benchmark,score,source,date`), in the order given.
    public var body: String

    public init(id: Int64, at: Timestamp, author: String?, note: String?, scores: Int, replaced: Int, body: String) {
        self.id = id
        self.at = at
        self.author = author
        self.note = note
        self.scores = scores
        self.replaced = replaced
        self.body = body
    }
}

/// The benchmark scores in force, as `GET /v1/benchmarks` shows them.
public struct BenchmarkListing: Sendable {
    /// Each score with where it came from: `file` (`benchmarks_dir`) or `api`.
    public var scores: [(score: BenchmarkScore, origin: String)]
    /// Policy `benchmarks.max_age_days` (0: scores never fade).
    public var maxAgeDays: Double
    /// Admin uploads, newest first.
    public var uploads: [BenchmarkUpload]
    /// When the listing was made (ages and freshness are as of it).
    public var asOf: Timestamp

    public init(scores: [(score: BenchmarkScore, origin: String)], maxAgeDays: Double, uploads: [BenchmarkUpload], asOf: Timestamp) {
        self.scores = scores
        self.maxAgeDays = maxAgeDays
        self.uploads = uploads
        self.asOf = asOf
    }
}

extension BenchmarkScore {
    /// The scores in force: the files', with the admin API's in place of theirs for the same
    /// endpoint and benchmark; scores of endpoints not in `registry` are left out (the daemon's
    /// ranker and a replay both weigh these).
    public static func inForce(files: [BenchmarkScore], api: [BenchmarkScore], registry: [Endpoint]) -> [BenchmarkScore] {
        let known = Set(registry.map(\.id))
        let replaced = Set(api.map(\.key))
        return (files.filter { !replaced.contains($0.key) } + api).filter { known.contains($0.endpointID) }
    }
}
