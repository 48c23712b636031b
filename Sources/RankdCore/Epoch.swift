/// One recomputation of every model's ranking: the unit rankd publishes and keeps in history.
public struct Epoch: Hashable, Codable, Sendable {
    /// Increases by one per epoch, across restarts.
    public var id: Int64
    public var computedAt: Timestamp
    /// `Policy.hash` of the policy that produced it.
    public var policyHash: String
    public var trigger: EpochTrigger
    /// Models sorted by slug.
    public var models: [ModelRanking]

    public init(id: Int64, computedAt: Timestamp, policyHash: String, trigger: EpochTrigger, models: [ModelRanking]) {
        self.id = id
        self.computedAt = computedAt
        self.policyHash = policyHash
        self.trigger = trigger
        self.models = models
    }

    public func ranking(for model: String) -> ModelRanking? {
        models.first { $0.model == model }
    }
}

/// Why an epoch was computed.
public enum EpochTrigger: String, Codable, Sendable {
    /// The regular interval.
    case scheduled
    /// The fast path saw an endpoint break hard between epochs.
    case fastPath = "fast_path"
    /// `POST /v1/admin/recompute`.
    case admin
    /// The first epoch of a process.
    case startup
    /// The first epoch after the first probe round (or `routing.cold_start_max_seconds`).
    case coldStart = "cold_start"
    /// A scheduled epoch at the warm-up interval (`routing.warmup_interval_seconds`).
    case warmup
    /// `rankd replay`.
    case replay
    /// An operator override was made, withdrawn or expired.
    case override
    /// Benchmark scores were replaced (`PUT /v1/admin/benchmarks`).
    case benchmarks
    /// The configuration was reloaded (`SIGHUP`, `POST /v1/admin/reload`).
    case reload
    /// A replica became the leader (`storage.postgres`): its first epoch.
    case leader
}

/// One model's endpoints in rank order.
public struct ModelRanking: Hashable, Codable, Sendable {
    public var model: String
    public var endpoints: [EndpointRanking]
    /// Model-level reason codes, e.g. `all_endpoints_degraded`.
    public var reasons: [String]

    public init(model: String, endpoints: [EndpointRanking], reasons: [String] = []) {
        self.model = model
        self.endpoints = endpoints
        self.reasons = reasons
    }
}

/// Where an endpoint stands.
public enum EndpointStatus: String, Codable, Sendable, CaseIterable {
    case ok
    /// Ordered after every healthy endpoint; keeps its score.
    case demoted
    /// Too few observations to judge: ranked with `ok` by routing score (or after `ok` with policy
    /// `routing.insufficient_data: after_ok`), always before `demoted`.
    case insufficientData = "insufficient_data"
    /// Switched off in configuration; always last.
    case disabled
}

/// Reason codes (short snake_case strings) used in entries and in the SQLite file.
public enum ReasonCode {
    public static let toolCallFailureOutlier = "tool_call_failure_outlier"
    public static let errorRateOutlier = "error_rate_outlier"
    public static let latencyOutlier = "latency_outlier"
    public static let consecutiveFailures = "consecutive_failures"
    public static let failureBurst = "failure_burst"
    /// Failures jumped against the endpoint's own recent rate (CUSUM, `faults.failure_change`).
    public static let failureRateChange = "failure_rate_change"
    /// Known-answer probes fail above the peers' rate (CUSUM, `faults.known_answers`).
    public static let knownAnswerFailures = "known_answer_failures"
    /// Share lowered, status ok: TTFT or tokens/s collapsed (`faults.latency`).
    public static let latencyDegraded = "latency_degraded"
    /// Share lowered, status ok: HTTP 429 until its Retry-After (`faults.rate_limits`).
    public static let rateLimited = "rate_limited"
    public static let allEndpointsDegraded = "all_endpoints_degraded"
    public static let recovering = "recovering"
    public static let noObservations = "no_observations"
    public static let belowMinimumSamples = "below_minimum_samples"
    public static let disabledInConfig = "disabled_in_config"
    public static let operatorPinned = "operator_pinned"
    public static let operatorDisabled = "operator_disabled"
    public static let operatorDemoted = "operator_demoted"
    public static let operatorUndemoted = "operator_undemoted"
}

/// One endpoint's place in an epoch, with everything needed to explain it.
public struct EndpointRanking: Hashable, Codable, Sendable {
    /// 1-based position within the model.
    public var rank: Int
    public var endpointID: String
    public var provider: String
    public var baseURL: String
    public var upstreamModel: String
    /// Weighted score in 0...1.
    public var score: Double
    public var status: EndpointStatus
    /// Present components, each in 0...1, by name.
    public var components: ComponentValues
    public var samples: Samples
    public var reasons: [String]
    public var demotedUntil: Timestamp?
    /// When the current demotion began (nil unless demoted).
    public var demotedSince: Timestamp?
    /// The operator override in force for this endpoint, if any.
    public var override: Override? {
        get { overrideBox?.value }
        set { overrideBox = newValue.map(OverrideBox.init) }
    }
    /// Boxed: overrides are rare, and inline an `Override?` was 112 of an entry's 568 bytes (two
    /// epochs of 20,000 entries are in memory while one is published).
    private var overrideBox: OverrideBox?
    public var explanation: Explanation

    /// The entry's intended share of its model's traffic (0...1; the servable entries of a model
    /// sum to 1, demoted and disabled ones are 0). 0 for every entry of an epoch made before shares.
    public var trafficShare: Double { explanation.share?.share ?? 0 }

    enum CodingKeys: String, CodingKey {
        case rank, endpointID, provider, baseURL, upstreamModel, score, status, components, samples, reasons, demotedUntil, demotedSince
        case overrideBox = "override"
        case explanation
    }

    public init(
        rank: Int, endpointID: String, provider: String, baseURL: String, upstreamModel: String, score: Double,
        status: EndpointStatus, components: ComponentValues, samples: Samples, reasons: [String],
        demotedUntil: Timestamp?, explanation: Explanation
    ) {
        self.rank = rank
        self.endpointID = endpointID
        self.provider = provider
        self.baseURL = baseURL
        self.upstreamModel = upstreamModel
        self.score = score
        self.status = status
        self.components = components
        self.samples = samples
        self.reasons = reasons
        self.demotedUntil = demotedUntil
        self.explanation = explanation
    }
}

/// Observation counts in the long window, by source.
public struct Samples: Hashable, Codable, Sendable {
    public var probe: Int64
    public var live: Int64

    public init(probe: Int64, live: Int64) {
        self.probe = probe
        self.live = live
    }
}

/// How a score was made: the weights actually used, what was missing, and the raw figures.
public struct Explanation: Hashable, Codable, Sendable {
    /// Normalised weights of the present components (they sum to 1).
    public var weights: ComponentValues
    /// Components with no data; their weight was spread over the others.
    public var missingComponents: [String]
    /// Components per window before blending.
    public var shortWindow: ComponentValues
    public var longWindow: ComponentValues
    /// Raw figures over the short window, for people and for routing preferences.
    public var stats: EndpointStats
    /// How the entry's traffic share was made (nil in epochs of versions before shares).
    public var share: ShareExplanation?

    public init(
        weights: ComponentValues, missingComponents: [String], shortWindow: ComponentValues,
        longWindow: ComponentValues, stats: EndpointStats
    ) {
        self.weights = weights
        self.missingComponents = missingComponents
        self.shortWindow = shortWindow
        self.longWindow = longWindow
        self.stats = stats
    }
}

/// Raw figures for one endpoint over the short window (nil when there is no data).
public struct EndpointStats: Hashable, Codable, Sendable {
    public var requests: Int64
    public var toolCallRequests: Int64
    public var toolCallFailureRate: Double?
    public var errorRate: Double?
    public var ttftP50Milliseconds: Double?
    public var ttftP90Milliseconds: Double?
    public var outputTokensPerSecondP50: Double?
    public var benchmark: Double?
    /// The share of the benchmark weight the score keeps as it ages (policy
    /// `benchmarks.max_age_days`); nil without a benchmark.
    public var benchmarkFreshness: Double?

    public init(
        requests: Int64 = 0, toolCallRequests: Int64 = 0, toolCallFailureRate: Double? = nil, errorRate: Double? = nil,
        ttftP50Milliseconds: Double? = nil, ttftP90Milliseconds: Double? = nil, outputTokensPerSecondP50: Double? = nil,
        benchmark: Double? = nil, benchmarkFreshness: Double? = nil
    ) {
        self.benchmarkFreshness = benchmarkFreshness
        self.requests = requests
        self.toolCallRequests = toolCallRequests
        self.toolCallFailureRate = toolCallFailureRate
        self.errorRate = errorRate
        self.ttftP50Milliseconds = ttftP50Milliseconds
        self.ttftP90Milliseconds = ttftP90Milliseconds
        self.outputTokensPerSecondP50 = outputTokensPerSecondP50
        self.benchmark = benchmark
    }
}

/// An `Override` behind a reference, encoded and compared as the override itself.
final class OverrideBox: Hashable, Codable, Sendable {
    let value: Override

    init(_ value: Override) { self.value = value }

    init(from decoder: any Decoder) throws { value = try Override(from: decoder) }

    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }

    static func == (lhs: OverrideBox, rhs: OverrideBox) -> Bool { lhs === rhs || lhs.value == rhs.value }

    func hash(into hasher: inout Hasher) { value.hash(into: &hasher) }
}
