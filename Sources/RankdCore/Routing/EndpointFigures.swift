/// TTFT or throughput at OpenRouter's four percentiles.
public struct Percentiles: Hashable, Sendable {
    public var p50: Double
    public var p75: Double
    public var p90: Double
    public var p99: Double

    public init(p50: Double, p75: Double, p90: Double, p99: Double) {
        self.p50 = p50
        self.p75 = p75
        self.p90 = p90
        self.p99 = p99
    }

    /// The histogram's percentiles (accurate to a bin, ~5%), nil when it is empty.
    public init?(_ histogram: LogHistogram) {
        guard let p50 = histogram.quantile(0.5), let p75 = histogram.quantile(0.75), let p90 = histogram.quantile(0.9),
            let p99 = histogram.quantile(0.99)
        else { return nil }
        self.init(p50: p50, p75: p75, p90: p90, p99: p99)
    }

    public subscript(percentile: Percentile) -> Double {
        switch percentile {
        case .p50: p50
        case .p75: p75
        case .p90: p90
        case .p99: p99
        }
    }

    public enum Percentile: String, CaseIterable, Hashable, Sendable {
        case p50, p75, p90, p99

        public var fraction: Double {
            switch self {
            case .p50: 0.5
            case .p75: 0.75
            case .p90: 0.9
            case .p99: 0.99
            }
        }
    }
}

/// One endpoint's figures over one rolling window, probes and live requests together: what
/// OpenRouter publishes per endpoint, and what the preferred cut-offs are judged on.
public struct WindowFigures: Hashable, Sendable {
    /// Every request seen.
    public var requests: Int64
    /// Requests OpenRouter's uptime rule counts (`Outcome.uptimeFailure` not nil), and those
    /// of them that failed.
    public var uptimeRequests: Int64
    public var uptimeFailures: Int64
    /// Requests the tool-call verdict applies to, and the failed tool calls among them.
    public var toolCallRequests: Int64
    public var toolCallFailures: Int64
    /// Time to first token, milliseconds.
    public var ttftMilliseconds: Percentiles?
    /// Output tokens per second after the first token.
    public var outputTokensPerSecond: Percentiles?

    public init(_ tallies: SourceTallies) {
        let tally = tallies.combined
        requests = tally.total
        var counted: Int64 = 0
        var failed: Int64 = 0
        for outcome in Outcome.allCases {
            guard let failure = outcome.uptimeFailure else { continue }
            let n = tally.count(outcome)
            counted += n
            if failure { failed += n }
        }
        uptimeRequests = counted
        uptimeFailures = failed
        toolCallRequests = tally.toolCallRequests
        toolCallFailures = tally.toolCallFailures
        ttftMilliseconds = Percentiles(tally.ttftMilliseconds)
        outputTokensPerSecond = Percentiles(tally.outputTokensPerSecond)
    }

    /// Successful ÷ counted requests, in percent (OpenRouter's `uptime_last_*`); nil without any.
    public var uptimePercent: Double? {
        uptimeRequests > 0 ? Double(uptimeRequests - uptimeFailures) / Double(uptimeRequests) * 100 : nil
    }

    /// Failed ÷ judged tool calls (0...1); nil without any.
    public var toolCallErrorRate: Double? {
        toolCallRequests > 0 ? Double(toolCallFailures) / Double(toolCallRequests) : nil
    }
}

/// One endpoint's figures over the rolling windows the daemon keeps for them.
public struct EndpointFigures: Hashable, Sendable {
    /// By window length in seconds (300, 1,800, the policy's `routing.preference_window_seconds`).
    public var windows: [Int: WindowFigures]

    public init(windows: [Int: WindowFigures]) { self.windows = windows }

    /// The rolling windows the daemon keeps besides the scoring ones: OpenRouter's 5 and 30
    /// minutes and the routing cut-offs' window.
    public static func windowSeconds(_ policy: Policy) -> [Double] {
        [300, 1_800, policy.routing.preferenceWindowSeconds]
    }

    /// Figures from the windows' recent totals (`WindowAggregator.recentStats`, one per
    /// `recentWindowMinutes`).
    public init(recent: [SourceTallies], minutes: [Int64]) {
        var windows: [Int: WindowFigures] = [:]
        for (tallies, length) in zip(recent, minutes) { windows[Int(length) * 60] = WindowFigures(tallies) }
        self.init(windows: windows)
    }
}
