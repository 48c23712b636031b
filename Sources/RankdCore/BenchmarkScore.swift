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

    /// One figure per endpoint: the mean of its benchmarks' scores.
    public static func combined(_ scores: [BenchmarkScore]) -> [String: Double] {
        Dictionary(grouping: scores, by: \.endpointID).mapValues { group in
            group.map(\.score).reduce(0, +) / Double(group.count)
        }
    }
}
