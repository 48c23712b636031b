/// A weighted mixture of latency histograms: each part's requests spread over its bins, scaled by
/// the part's weight. Its quantiles are those of the traffic the weights describe (what users
/// would have seen had traffic been split so).
public struct HistogramMixture: Hashable, Sendable {
    /// Weight per bin, indexed from `LogHistogram.lowestBin` (a dense array: a replay adds every
    /// endpoint's minute histogram to it, hundreds of thousands of times).
    private var weights: [Double] = []

    public init() {}

    private static let offset = Int(LogHistogram.lowestBin)
    private static let binCount = Int(LogHistogram.highestBin) - offset + 1

    /// Adds `histogram`'s distribution with total weight `weight` (nothing if it is empty).
    public mutating func add(_ histogram: LogHistogram, weight: Double) {
        guard histogram.count > 0, weight > 0 else { return }
        if weights.isEmpty { weights = Array(repeating: 0, count: Self.binCount) }
        let perRequest = weight / Double(histogram.count)
        histogram.forEachBin { bin, count in weights[Int(bin) - Self.offset] += Double(count) * perRequest }
    }

    public mutating func add(_ other: HistogramMixture) {
        guard !other.weights.isEmpty else { return }
        if weights.isEmpty {
            weights = other.weights
            return
        }
        for index in weights.indices { weights[index] += other.weights[index] }
    }

    /// The value at quantile `q` (accurate to one bin, ~5%); nil when empty.
    public func quantile(_ q: Double) -> Double? {
        let total = weights.reduce(0, +)
        guard total > 0 else { return nil }
        var seen = 0.0
        var last = 0
        for (index, weight) in weights.enumerated() where weight > 0 {
            seen += weight
            last = index
            if seen >= q * total { return LogHistogram.value(ofBin: Int32(index + Self.offset)) }
        }
        return LogHistogram.value(ofBin: Int32(last + Self.offset))
    }
}

/// What users would have met under one sequence of epochs, estimated from each endpoint's
/// recorded per-minute outcomes and the traffic shares the epochs gave: per minute, each
/// endpoint's failure rates weighed by its share (among the endpoints with outcomes that minute),
/// weighed by the model's requests that minute.
public struct OutcomeEstimate: Hashable, Sendable {
    /// Requests the estimate covers (the model's recorded requests in the minutes it could weigh).
    public var requests = 0.0
    /// Expected requests with a wrong or missing tool call, and with no usable answer.
    public var toolCallFailures = 0.0
    public var errors = 0.0
    public var ttft = HistogramMixture()

    public init() {}

    public var toolCallFailureShare: Double? { requests > 0 ? toolCallFailures / requests : nil }
    public var errorShare: Double? { requests > 0 ? errors / requests : nil }
    public var ttftP50Milliseconds: Double? { ttft.quantile(0.5) }

    public mutating func add(_ other: OutcomeEstimate) {
        requests += other.requests
        toolCallFailures += other.toolCallFailures
        errors += other.errors
        ttft.add(other.ttft)
    }

    /// Adds one minute of one model: `tallies` each endpoint's outcomes that minute (probes and
    /// live requests together), `shares` the traffic shares in force, `requests` the weight of
    /// the minute (the model's live requests, or all its requests where it had no live traffic).
    /// Endpoints without outcomes that minute are left out and the others' shares scaled up; a
    /// minute where every endpoint with a share was silent adds nothing.
    public mutating func addMinute(tallies: [String: Tally], shares: [String: Double], requests: Double) {
        guard requests > 0 else { return }
        var weighed = 0.0
        var toolCall = 0.0
        var error = 0.0
        for (id, share) in shares where share > 0 {
            guard let tally = tallies[id], tally.total > 0 else { continue }
            let total = Double(tally.total)
            weighed += share
            toolCall += share * Double(tally.toolCallFailures) / total
            error += share * Double(Self.requestFailures(tally)) / total
        }
        guard weighed > 0 else { return }
        self.requests += requests
        toolCallFailures += requests * toolCall / weighed
        errors += requests * error / weighed
        for (id, share) in shares where share > 0 {
            guard let tally = tallies[id], tally.total > 0 else { continue }
            ttft.add(tally.ttftMilliseconds, weight: requests * share / weighed)
        }
    }

    static func requestFailures(_ tally: Tally) -> Int64 {
        Outcome.allCases.filter(\.isRequestFailure).reduce(0) { $0 + tally.count($1) }
    }
}

/// Runs of failing minutes per endpoint, followed minute by minute: where the run an endpoint is
/// in (or last left) began, so a demotion can be timed from its first failing minute.
public struct FailingRuns: Sendable {
    /// A minute fails when the share of its requests that failed (no usable answer, or a wrong or
    /// missing tool call) is at least this much above its model's other endpoints' that minute
    /// (pooled; none with outcomes: above nothing).
    public static let excessShare = 0.05

    private var runStart: [String: Int64] = [:]
    private var lastMinute: [String: Int64] = [:]
    /// Every run seen, per endpoint, oldest first: its first and last failing minute.
    private var history: [String: [(start: Int64, last: Int64)]] = [:]

    public init() {}

    static func failures(_ tally: Tally) -> Int64 { tally.toolCallFailures + OutcomeEstimate.requestFailures(tally) }

    /// Whether an endpoint's minute fails against its peers' minute.
    public static func fails(_ tally: Tally, peers: (failures: Int64, total: Int64)) -> Bool {
        guard tally.total > 0 else { return false }
        let failed = failures(tally)
        guard failed > 0 else { return false }
        let peerShare = peers.total > 0 ? Double(peers.failures) / Double(peers.total) : 0
        return Double(failed) / Double(tally.total) >= peerShare + excessShare
    }

    /// One minute of every endpoint (minutes in ascending order), `modelOf` each endpoint's
    /// model. A minute that does not fail ends an endpoint's run; a silent minute neither starts
    /// nor ends one.
    public mutating func observe(minute: Int64, tallies: [String: Tally], modelOf: (String) -> String?) {
        var pooled: [String: (failures: Int64, total: Int64)] = [:]
        for (id, tally) in tallies {
            guard let model = modelOf(id) else { continue }
            pooled[model, default: (0, 0)].failures += Self.failures(tally)
            pooled[model, default: (0, 0)].total += tally.total
        }
        for (id, tally) in tallies where tally.total > 0 {
            guard let model = modelOf(id), let all = pooled[model] else { continue }
            if let last = lastMinute[id], minute <= last { continue }
            lastMinute[id] = minute
            let peers = (all.failures - Self.failures(tally), all.total - tally.total)
            if Self.fails(tally, peers: peers) {
                if runStart[id] == nil {
                    runStart[id] = minute
                    history[id, default: []].append((minute, minute))
                } else {
                    history[id]![history[id]!.count - 1].last = minute
                }
            } else {
                runStart[id] = nil
            }
        }
    }

    /// The latest run of `endpointID` that began by `minute` and had not ended an hour before it
    /// (what a demotion at `minute` came in), or nil.
    public func run(of endpointID: String, beganBy minute: Int64) -> (start: Int64, last: Int64)? {
        history[endpointID]?.last { $0.start <= minute && $0.last >= minute - 60 }
    }
}
