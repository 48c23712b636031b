/// Counts and distributions of observations for one endpoint and source over some span of time
/// (a minute bucket, or a whole window). Tallies add and subtract exactly.
public struct Tally: Hashable, Codable, Sendable {
    /// Count per outcome, indexed by `Outcome.index`.
    public private(set) var outcomeCounts: [Int64]
    /// Requests that offered tools and got an answer the tool-call verdict applies to
    /// (`ok` with tools, or one of the tool-call failure outcomes).
    public private(set) var toolCallRequests: Int64
    /// Time to first token, milliseconds.
    public private(set) var ttftMilliseconds: LogHistogram
    /// Output tokens per second after the first token.
    public private(set) var outputTokensPerSecond: LogHistogram

    /// Shared by every empty tally (copy on write): an endpoint's probe tallies are mostly empty,
    /// and twelve zeros allocated for each would be a heap block per empty tally.
    private static let zeroCounts = [Int64](repeating: 0, count: Outcome.allCases.count)

    public init() {
        outcomeCounts = Self.zeroCounts
        toolCallRequests = 0
        ttftMilliseconds = LogHistogram()
        outputTokensPerSecond = LogHistogram()
    }

    public init(
        outcomeCounts: [Outcome: Int64], toolCallRequests: Int64, ttftMilliseconds: LogHistogram,
        outputTokensPerSecond: LogHistogram
    ) {
        self.init()
        for (outcome, n) in outcomeCounts { self.outcomeCounts[outcome.index] = n }
        self.toolCallRequests = toolCallRequests
        self.ttftMilliseconds = ttftMilliseconds
        self.outputTokensPerSecond = outputTokensPerSecond
    }

    /// A tally from counts by outcome index (`Outcome.index`; missing indices count 0, extra ones
    /// are ignored).
    public init(
        outcomeCountsByIndex counts: [Int64], toolCallRequests: Int64, ttftMilliseconds: LogHistogram, outputTokensPerSecond: LogHistogram
    ) {
        self.init()
        for (index, n) in counts.prefix(outcomeCounts.count).enumerated() where n != 0 { outcomeCounts[index] = n }
        self.toolCallRequests = toolCallRequests
        self.ttftMilliseconds = ttftMilliseconds
        self.outputTokensPerSecond = outputTokensPerSecond
    }

    public var total: Int64 { outcomeCounts.reduce(0, +) }
    public var isEmpty: Bool { total == 0 }

    public func count(_ outcome: Outcome) -> Int64 { outcomeCounts[outcome.index] }

    public var toolCallFailures: Int64 {
        var failures: Int64 = 0
        for index in Self.toolCallFailureIndices { failures += outcomeCounts[index] }
        return failures
    }

    // Per-outcome flags by index, computed once: the scorer asks for these counts for every
    // endpoint at every epoch, and hashing outcomes (String raw values) there showed in profiles.
    private static let toolCallFailureIndices = Outcome.allCases.filter(\.isToolCallFailure).map(\.index)
    private static let requestFailureFlags = Outcome.allCases.map(\.isRequestFailure)
    private static let toolCallFailureFlags = Outcome.allCases.map(\.isToolCallFailure)

    /// Requests that count for reliability and how many of them failed, given the outcomes the
    /// policy ignores (by default `http_429`: a rate limit is back-pressure, not an outage).
    /// Tool-call failures count neither way: the tool-call component judges them, and counting
    /// them as successes here would let more failures raise a score.
    public func reliabilityCounts(ignoring ignored: Set<Outcome>) -> (requests: Int64, failures: Int64) {
        var requests: Int64 = 0
        var failures: Int64 = 0
        for (index, outcome) in Outcome.allCases.enumerated() where !Self.toolCallFailureFlags[index] {
            let n = outcomeCounts[index]
            guard n > 0, !ignored.contains(where: { $0 == outcome }) else { continue }
            requests += n
            if Self.requestFailureFlags[index] { failures += n }
        }
        return (requests, failures)
    }

    public mutating func record(_ observation: Observation) {
        outcomeCounts[observation.outcome.index] += 1
        if observation.toolsOffered && (observation.outcome == .ok || observation.outcome.isToolCallFailure) {
            toolCallRequests += 1
        }
        if let ttft = observation.ttftMilliseconds { ttftMilliseconds.record(ttft) }
        if let tps = observation.outputTokensPerSecond { outputTokensPerSecond.record(tps) }
    }

    public mutating func add(_ other: Tally) {
        for index in outcomeCounts.indices { outcomeCounts[index] += other.outcomeCounts[index] }
        toolCallRequests += other.toolCallRequests
        ttftMilliseconds.add(other.ttftMilliseconds)
        outputTokensPerSecond.add(other.outputTokensPerSecond)
    }

    public mutating func subtract(_ other: Tally) {
        for index in outcomeCounts.indices {
            outcomeCounts[index] = max(0, outcomeCounts[index] - other.outcomeCounts[index])
        }
        toolCallRequests = max(0, toolCallRequests - other.toolCallRequests)
        ttftMilliseconds.subtract(other.ttftMilliseconds)
        outputTokensPerSecond.subtract(other.outputTokensPerSecond)
    }

    public static func + (lhs: Tally, rhs: Tally) -> Tally {
        var sum = lhs
        sum.add(rhs)
        return sum
    }
}

/// One stored minute: the unit of persistence and history. A rolled-up span of minutes (an hour
/// of the store's `hour_buckets`) has the same shape, with `spanMinutes` > 1.
public struct MinuteBucket: Hashable, Codable, Sendable {
    public var endpointID: String
    /// Minutes since the Unix epoch (the first minute, for a span).
    public var minute: Int64
    public var source: ObservationSource
    public var tally: Tally
    /// Minutes the tally covers: 1 for a minute bucket, 60 for an hour rolled up by the store.
    public var spanMinutes: Int64

    public init(endpointID: String, minute: Int64, source: ObservationSource, tally: Tally, spanMinutes: Int64 = 1) {
        self.endpointID = endpointID
        self.minute = minute
        self.source = source
        self.tally = tally
        self.spanMinutes = spanMinutes
    }

    /// Observations folded into one bucket per (endpoint, minute, source), sorted by those keys
    /// unless `sorted` is false (adding buckets is commutative, so the ingest path skips the
    /// sort, a visible share of a busy daemon's CPU).
    public static func fold(_ observations: some Sequence<Observation>, sorted: Bool = true) -> [MinuteBucket] {
        var buckets: [FoldKey: MinuteBucket] = [:]
        for observation in observations {
            let key = FoldKey(endpointID: observation.endpointID, minute: observation.time.minute, source: observation.source)
            buckets[key, default: MinuteBucket(endpointID: key.endpointID, minute: key.minute, source: key.source, tally: Tally())]
                .tally.record(observation)
        }
        guard sorted else { return Array(buckets.values) }
        return buckets.values.sorted { ($0.endpointID, $0.minute, $0.source.rawValue) < ($1.endpointID, $1.minute, $1.source.rawValue) }
    }
}

/// Groups observations by bucket in `MinuteBucket.fold`.
struct FoldKey: Hashable {
    var endpointID: String
    var minute: Int64
    var source: ObservationSource
}
