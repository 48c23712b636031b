import Foundation

/// Scoring weights, windows, priors, thresholds and demotion rules. Loaded from
/// `scoring/policy.yaml`; `Policy.default` is the built-in copy of that file.
public struct Policy: Hashable, Codable, Sendable {
    public var weights: Weights
    public var windows: Windows
    public var sources: SourceWeights
    public var priors: Priors
    public var reliability: Reliability
    public var status: StatusRules
    public var demotion: Demotion
    public var fastPath: FastPath
    public var probing: Probing
    public var publication: Publication
    public var ingest: Ingest
    public var routing: Routing
    public var faults: Faults
    public var benchmarks = Benchmarks()

    /// Component weights; they need not sum to 1 (they are normalised over present components).
    public struct Weights: Hashable, Codable, Sendable {
        public var toolCallSuccess = 0.35
        public var reliability = 0.25
        public var throughput = 0.15
        public var latency = 0.15
        public var benchmark = 0.10

        public init() {}

        public func weight(of component: Component) -> Double {
            switch component {
            case .toolCallSuccess: toolCallSuccess
            case .reliability: reliability
            case .throughput: throughput
            case .latency: latency
            case .benchmark: benchmark
            }
        }
    }

    public struct Windows: Hashable, Codable, Sendable {
        /// Short window: reacts within minutes; outlier rules read it. Default 900 s.
        public var shortSeconds = 900.0
        /// Long window: stable evidence. Default 86,400 s.
        public var longSeconds = 86_400.0
        /// Share of the short window in a blended component (0...1), when it has data. Default 0.5.
        public var shortWeight = 0.5

        public init() {}
    }

    /// How much one probe and one live request count in smoothed rates.
    public struct SourceWeights: Hashable, Codable, Sendable {
        /// Probes carry known answers, so each counts more by default. Default 2.
        public var probeWeight = 2.0
        public var liveWeight = 1.0

        public init() {}
    }

    /// Beta priors: a rate is smoothed as (successes + strength × peerRate) / (requests + strength).
    public struct Priors: Hashable, Codable, Sendable {
        /// Pseudo-requests of prior evidence. Default 20.
        public var strength = 20.0
        /// Prior rates used when no endpoint of the model has data yet.
        public var toolCallSuccessRate = 0.95
        public var reliabilityRate = 0.98

        public init() {}
    }

    public struct Reliability: Hashable, Codable, Sendable {
        /// Outcomes that count neither as success nor failure. Default: `http_429`.
        public var ignoredOutcomes: [Outcome] = [.http429]

        public init() {}
    }

    public struct StatusRules: Hashable, Codable, Sendable {
        /// Below this many observations in the long window an endpoint is `insufficient_data`. Default 20.
        public var minimumSamples = 20

        public init() {}
    }

    public struct Demotion: Hashable, Codable, Sendable {
        public var failureOutlier = FailureOutlier()
        public var latencyOutlier = LatencyOutlier()
        /// First demotion lasts this long; each repeat adds one more (Envoy's ejection growth). Default 300 s.
        public var baseSeconds = 300.0
        /// Cap on one demotion's length. Default 3,600 s.
        public var maxSeconds = 3_600.0
        /// Hysteresis: a demotion ends only after this long with no rule firing. Default 300 s.
        public var cleanSeconds = 300.0
        /// The repeat count drops by one per this long without a demotion. Default 1,800 s.
        public var decaySeconds = 1_800.0

        public init() {}
    }

    /// One-sided two-proportion z-test of an endpoint's failure rate against its peers' pooled rate.
    public struct FailureOutlier: Hashable, Codable, Sendable {
        /// Requests needed (endpoint, and peers pooled) before the test runs. Default 20.
        public var minRequests = 20
        /// z above which the endpoint is an outlier. Default 3.09 (one-sided p ≈ 0.001).
        public var zCritical = 3.09
        /// The endpoint's rate must also exceed the peers' by this much (effect size). Default 0.05.
        public var minExcessRate = 0.05

        public init() {}
    }

    /// Robust rule on TTFT p50: above median + k × MAD × 1.4826 and at least `minRatio` × median.
    public struct LatencyOutlier: Hashable, Codable, Sendable {
        /// Endpoints of the model with latency data needed for the rule to run. Default 3.
        public var minPeers = 3
        /// TTFT samples an endpoint needs in the short window to be judged. Default 10.
        public var minSamples = 10
        public var madMultiplier = 3.0
        public var minRatio = 2.0

        public init() {}
    }

    /// How traffic is spread over a model's endpoints (`traffic_share`) and how ranks are ordered;
    /// scoring/README.md explains the formula.
    public struct Routing: Hashable, Codable, Sendable {
        /// Share every servable endpoint gets at least (0...0.5), so live evidence keeps arriving. Default 0.02.
        public var explorationFloor = 0.02
        /// Routing-score points per e-fold of share above the floor (softmax temperature). Default 0.02.
        public var temperature = 0.02
        /// Tool-call success and reliability within this many posterior standard deviations of the
        /// best count as equal, so speed decides between them. Default 2.
        public var qualityConfidenceZ = 2.0
        /// Blended quality points (0...1) by which an endpoint may fall short of the best lower
        /// bound and still be in the top tier: differences too small to matter never outrank speed. Default 0.01.
        public var qualityTolerance = 0.01
        /// Where `insufficient_data` endpoints stand: ranked with `ok` ones by routing score
        /// (`with_ok`, default) or after them, with the floor share only (`after_ok`).
        public var insufficientData = InsufficientDataPlacement.withOK
        /// The first informed epoch comes when every enabled endpoint has been probed once, or this
        /// long after start, whichever is first. Default 30 s.
        public var coldStartMaxSeconds = 30.0
        /// While an enabled endpoint is below `status.minimum_samples`, during the first
        /// `warmup_seconds` after start, scheduled epochs come this often. 0: off. Default 30 s.
        public var warmupIntervalSeconds = 30.0
        /// How long after start the warm-up interval may apply. Default 600 s.
        public var warmupSeconds = 600.0
        /// Epochs out of schedule (fast path, outlier checks, overrides) at most once per this long. Default 1 s.
        public var minUnscheduledEpochSeconds = 1.0
        /// The rolling window `preferred_max_latency` and `preferred_min_throughput` cut-offs are
        /// judged over (OpenRouter's: 5 minutes). Default 300 s.
        public var preferenceWindowSeconds = 300.0

        public init() {}
    }

    /// How benchmark scores count as they age.
    public struct Benchmarks: Hashable, Codable, Sendable {
        /// A score's part in the benchmark component falls linearly from its date to nothing at
        /// this age (days); 0: scores never fade. Default 180.
        public var maxAgeDays = 180.0

        public init() {}
    }

    public enum InsufficientDataPlacement: String, Hashable, Codable, Sendable, CaseIterable {
        case withOK = "with_ok"
        case afterOK = "after_ok"
    }

    /// How answers are served.
    public struct Publication: Hashable, Codable, Sendable {
        /// `Cache-Control: max-age` of ranking answers; short, since the fast path can publish at any time. Default 5 s.
        public var cacheMaxAgeSeconds = 5

        public init() {}
    }

    /// The synthetic prober's schedule and limits.
    public struct Probing: Hashable, Codable, Sendable {
        /// Seconds between probes of a healthy endpoint. Default 60.
        public var intervalSeconds = 60.0
        /// Seconds between probes while an endpoint is suspicious (last probe failed) or demoted. Default 15.
        public var suspiciousIntervalSeconds = 15.0
        /// Random spread of each interval, as a fraction (0.1 = ±10%). Default 0.1.
        public var jitter = 0.1
        /// Probes in flight at once, across all endpoints. Default 8.
        public var concurrency = 8
        /// Probe starts per endpoint per rolling minute, at most. Default 6.
        public var maxPerMinute = 6
        /// Estimated spend per endpoint per UTC day (from its prices), after which probing pauses. Default 1 USD.
        public var dailyBudgetUSD = 1.0
        /// Whole-request timeout. Default 60 s.
        public var timeoutSeconds = 60.0
        public var connectTimeoutSeconds = 5.0
        /// Responses past this are cut (transport error). Default 1 MiB.
        public var maxResponseBytes = 1 << 20
        /// Probing by exposure: an endpoint carrying live traffic is probed at this many probes per
        /// live request it serves (its traffic share × its model's request rate), between the
        /// healthy interval and its cap. 0: off. Default 0.1.
        public var exposureProbeRatio = 0.1
        /// The per-minute cap of an endpoint with all of its model's traffic; an endpoint's cap is
        /// this × its traffic share, never below `max_per_minute`. Default 30.
        public var exposedMaxPerMinute = 30
        /// An endpoint's daily budget grows by this × its traffic share, so the endpoints users
        /// depend on can be probed at their exposure all day. Default 20 USD.
        public var exposedDailyBudgetUSD = 20.0

        public init() {}
    }

    /// Fault reaction between epochs (scoring/README.md, "Fault reaction"): slowness and rate
    /// limits lower an endpoint's share and keep its status; failure-rate change and known-answer
    /// failures demote it.
    public struct Faults: Hashable, Codable, Sendable {
        public var latency = LatencyDegradation()
        public var failureChange = FailureChange()
        public var knownAnswers = KnownAnswers()
        public var rateLimits = RateLimits()

        public init() {}
    }

    /// An endpoint whose time to first token (or tokens/s) collapses against its own baseline and
    /// against its fastest peer gets the floor share only (`latency_degraded`).
    public struct LatencyDegradation: Hashable, Codable, Sendable {
        /// The recent samples judged: those of the last this many seconds. Default 10.
        public var windowSeconds = 10.0
        /// Recent samples needed before the rule runs. Default 3.
        public var minSamples = 3
        /// Recent median TTFT at least this many times the endpoint's baseline (or tokens/s at most
        /// 1/this of it). Default 3.
        public var slowdownRatio = 3.0
        /// ... and at least this many times the fastest peer's baseline TTFT (or tokens/s at most
        /// 1/this of it): a faster endpoint must exist to move to. Default 1.5.
        public var peerRatio = 1.5
        /// Samples an endpoint's baseline needs before it is compared with. Default 10.
        public var baselineMinSamples = 10
        /// The share returns this long after the last slow sample. Default 30 s.
        public var holdSeconds = 30.0
        /// A probe with no first token this long after it started is slow evidence at once. Default 10 s.
        public var firstTokenBoundSeconds = 10.0

        public init() {}
    }

    /// A CUSUM of the endpoint's gateway-visible failures (request failures but ignored outcomes,
    /// and tool-call failures) against its own recent rate: a jump demotes (`failure_rate_change`),
    /// whatever the peers do.
    public struct FailureChange: Hashable, Codable, Sendable {
        /// The in-control rate is the endpoint's own running rate, at least this. Default 0.01.
        public var baselineFloor = 0.01
        /// The rate the test looks for: the baseline × this, or the baseline + `min_shift`,
        /// whichever is higher. Default 4.
        public var shiftRatio = 4.0
        public var minShift = 0.1
        /// Log-likelihood ratio at which it fires (higher: fewer false alarms, slower). Default 14.
        public var threshold = 14.0
        /// Observations the baseline needs before the rule runs (the volume floor). Default 20.
        public var minRequests = 20

        public init() {}
    }

    /// A CUSUM (a sequential probability ratio test that restarts) of known-answer probe failures
    /// against the peers' probe failure rate: demotes (`known_answer_failures`).
    public struct KnownAnswers: Hashable, Codable, Sendable {
        /// The in-control rate is the peers' running probe failure rate, at least this. Default 0.01.
        public var baselineFloor = 0.01
        public var shiftRatio = 4.0
        /// Default 0.19: the test looks for a 20% failure rate against a 1% one.
        public var minShift = 0.19
        /// Log-likelihood ratio at which it fires. Default 8.
        public var threshold = 8.0
        /// While the test leans towards failure (after a failed known-answer probe), the endpoint is
        /// probed again this soon. Default 0.5 s.
        public var reprobeSeconds = 0.5
        /// ... at most this many probes a minute. Default 90.
        public var suspectMaxPerMinute = 90

        public init() {}
    }

    /// HTTP 429 is capacity, not failure: the endpoint gets the floor share until its
    /// `Retry-After` (`rate_limited`), and reliability does not count it.
    public struct RateLimits: Hashable, Codable, Sendable {
        /// When neither the telemetry record nor the span gives a Retry-After. Default 10 s.
        public var defaultRetryAfterSeconds = 10.0
        /// A longer Retry-After is cut to this. Default 300 s.
        public var maxRetryAfterSeconds = 300.0
        /// The share stays lowered at least this long after a 429, so the few requests the floor
        /// sends keep it lowered through a storm instead of letting the share flap back. Default 15 s.
        public var minSeconds = 15.0

        public init() {}
    }

    /// Between epochs: demote within seconds on hard failures.
    public struct FastPath: Hashable, Codable, Sendable {
        /// Hard failures (5xx, timeout, transport error) in a row that demote at once. Default 5.
        public var consecutiveFailures = 5
        /// Sliding window of the burst rule. Default 10 s.
        public var burstWindowSeconds = 10
        /// Requests in the sliding window before the burst rule runs. Default 20.
        public var burstMinRequests = 20
        /// Share of failures (any request or tool-call failure but 429) that is a burst. Default 0.3.
        public var burstFailureRate = 0.3
        /// Between epochs, the failure-outlier rules run on the in-memory short window this often;
        /// a rule firing for an endpoint not yet demoted publishes an epoch at once. 0: off. Default 5 s.
        public var outlierCheckSeconds = 5.0

        public init() {}
    }

    /// Live telemetry ingest (`POST /v1/telemetry`, `/v1/traces`).
    public struct Ingest: Hashable, Codable, Sendable {
        /// A replayed `request_id` within this window is acknowledged and not counted again;
        /// older records are refused (they could not be counted exactly once). Default 3,600 s.
        public var dedupeWindowSeconds = 3_600.0
        /// Most request ids kept for deduplication; past it the oldest minutes are dropped first
        /// (the effective window shrinks, and the metric says so). Default 20,000,000 (about 1.4 GB of state.db).
        public var maxDedupeKeys = 20_000_000
        /// Records stamped further in the future than this are refused (clock skew). Default 30 s.
        public var futureToleranceSeconds = 30.0

        public init() {}
    }

    public init(
        weights: Weights = Weights(), windows: Windows = Windows(), sources: SourceWeights = SourceWeights(),
        priors: Priors = Priors(), reliability: Reliability = Reliability(), status: StatusRules = StatusRules(),
        demotion: Demotion = Demotion(), fastPath: FastPath = FastPath(), probing: Probing = Probing(),
        publication: Publication = Publication(), ingest: Ingest = Ingest(), routing: Routing = Routing(),
        faults: Faults = Faults()
    ) {
        self.faults = faults
        self.routing = routing
        self.ingest = ingest
        self.weights = weights
        self.windows = windows
        self.sources = sources
        self.priors = priors
        self.reliability = reliability
        self.status = status
        self.demotion = demotion
        self.fastPath = fastPath
        self.probing = probing
        self.publication = publication
    }

    public static let `default` = Policy()

    /// Semantic checks beyond types and ranges: each problem as (key path, message with the fix).
    public func problems() -> [(path: String, message: String)] {
        var found: [(String, String)] = []
        let allWeights = Component.allCases.map { weights.weight(of: $0) }
        if allWeights.reduce(0, +) <= 0 {
            found.append(("weights", "all weights are 0; give at least one component a positive weight"))
        }
        if windows.shortSeconds > windows.longSeconds {
            found.append(("windows.short_seconds", "is longer than windows.long_seconds (\(windows.longSeconds)); make it shorter"))
        }
        if demotion.baseSeconds > demotion.maxSeconds {
            found.append(
                ("demotion.base_seconds", "is longer than demotion.max_seconds (\(demotion.maxSeconds)); lower it or raise max_seconds"))
        }
        if probing.suspiciousIntervalSeconds > probing.intervalSeconds {
            found.append(
                (
                    "probing.suspicious_interval_seconds",
                    "is longer than probing.interval_seconds; suspicious endpoints are meant to be probed more often"
                ))
        }
        if sources.probeWeight + sources.liveWeight <= 0 {
            found.append(("sources", "probe_weight and live_weight are both 0; make at least one positive"))
        }
        return found
    }
}

/// The score components, each in 0...1.
public enum Component: String, CaseIterable, Codable, Sendable {
    case toolCallSuccess = "tool_call_success"
    case reliability
    case throughput
    case latency
    case benchmark
}
