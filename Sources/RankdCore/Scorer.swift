import Foundation

/// Everything one epoch is computed from. Same input, same epoch.
public struct ScoringInput: Sendable {
    public var epochID: Int64
    /// The instant the epoch is computed for (the caller's clock).
    public var time: Timestamp
    public var trigger: EpochTrigger
    public var policy: Policy
    public var endpoints: [Endpoint]
    /// Window totals of an endpoint id (empty for one with no observations). Asked one model at a
    /// time while it is scored, so the totals of every endpoint never exist at once (the windows
    /// hold them packed: unpacked, 20,000 endpoints' were tens of megabytes).
    public var stats: @Sendable (String) -> WindowStats
    /// Combined benchmark score (0...1) per endpoint id.
    public var benchmarks: [String: Double]
    /// How much of the benchmark weight each endpoint's score keeps as it ages (missing: 1).
    public var benchmarkFreshness: [String: Double] = [:]
    /// Demotion memory from the previous epoch.
    public var demotions: [String: DemotionState]
    /// Fast-path reason codes seen since the previous epoch, per endpoint id.
    public var fastPathReasons: [String: [String]]
    /// Operator overrides in force at `time`, by endpoint id.
    public var overrides: [String: Override]
    /// Lowered shares in force at `time` (slowness, rate limits), by endpoint id.
    public var shareLimits: [String: ShareLimit] = [:]

    /// An input with window totals given per endpoint id (a missing id means no observations).
    public init(
        epochID: Int64, now: Timestamp, trigger: EpochTrigger, policy: Policy, endpoints: [Endpoint],
        stats: [String: WindowStats], benchmarks: [String: Double] = [:], demotions: [String: DemotionState] = [:],
        fastPathReasons: [String: [String]] = [:], overrides: [String: Override] = [:], shareLimits: [String: ShareLimit] = [:]
    ) {
        self.init(
            epochID: epochID, now: now, trigger: trigger, policy: policy, endpoints: endpoints, windowStats: { stats[$0] ?? WindowStats() },
            benchmarks: benchmarks, demotions: demotions, fastPathReasons: fastPathReasons, overrides: overrides, shareLimits: shareLimits)
    }

    /// An input that reads window totals as each model is scored (from the engine's windows).
    public init(
        epochID: Int64, now: Timestamp, trigger: EpochTrigger, policy: Policy, endpoints: [Endpoint],
        windowStats: @escaping @Sendable (String) -> WindowStats, benchmarks: [String: Double] = [:],
        demotions: [String: DemotionState] = [:], fastPathReasons: [String: [String]] = [:], overrides: [String: Override] = [:],
        shareLimits: [String: ShareLimit] = [:]
    ) {
        self.shareLimits = shareLimits
        self.overrides = overrides
        self.epochID = epochID
        self.time = now
        self.trigger = trigger
        self.policy = policy
        self.endpoints = endpoints
        self.stats = windowStats
        self.benchmarks = benchmarks
        self.demotions = demotions
        self.fastPathReasons = fastPathReasons
    }
}

/// An epoch and the demotion memory to carry into the next one.
public struct ScoringResult: Sendable {
    public var epoch: Epoch
    public var demotions: [String: DemotionState]
}

/// The scorer: a pure function from `ScoringInput` to `ScoringResult`.
///
/// Per model: components (scorers) per endpoint, a weighted score, outlier rules, demotion with
/// hysteresis, the never-demote-everyone guard, then ordering by tier and score.
public enum Scorer {
    /// From this many endpoints on, the daemon ranks models on several threads (they are
    /// independent: each model reads and updates only its own endpoints' demotion memory).
    public static let parallelFromEndpoints = 2_000

    public static func score(_ input: ScoringInput, parallelism: ScoringParallelism = .serial) -> ScoringResult {
        // Models' endpoints as indices into `input.endpoints`, in id order: grouping copies of the
        // endpoints themselves held the registry twice more while an epoch was computed.
        let endpoints = input.endpoints
        var byModel: [String: [Int]] = [:]
        for (index, endpoint) in endpoints.enumerated() { byModel[endpoint.model, default: []].append(index) }
        let names = byModel.keys.sorted()
        let groups = names.map { byModel[$0]!.sorted { endpoints[$0].id < endpoints[$1].id } }
        let workers = input.endpoints.count >= parallelism.fromEndpoints ? max(1, min(parallelism.workers, names.count)) : 1
        let slots = RankedModels(count: names.count)
        let rank = { @Sendable (worker: Int) in
            var demotions = input.demotions
            for index in stride(from: worker, to: names.count, by: workers) {
                let peers = groups[index].map { endpoints[$0] }
                let ranking = rankModel(names[index], peers: peers, input: input, demotions: &demotions)
                slots.store(index, ranking, demotions: peers.map { peer in (peer.id, demotions[peer.id]) })
            }
        }
        if workers == 1 { rank(0) } else { parallelism.run(workers, rank) }
        var demotions = input.demotions
        var models: [ModelRanking] = []
        models.reserveCapacity(names.count)
        for (ranking, updates) in slots.all {
            models.append(ranking)
            for (id, state) in updates { demotions[id] = state }
        }
        let epoch = Epoch(id: input.epochID, computedAt: input.time, policyHash: input.policy.hash, trigger: input.trigger, models: models)
        return ScoringResult(epoch: epoch, demotions: demotions)
    }

    /// Each model's ranking and its endpoints' demotion memory, filled by the workers: each slot
    /// is written by the one worker that ranks its model, and read only after `run` has returned
    /// (which waits for every worker), so the slots need no lock.
    private final class RankedModels: @unchecked Sendable {
        private let slots: UnsafeMutableBufferPointer<(ModelRanking, [(String, DemotionState?)])?>

        init(count: Int) {
            slots = .allocate(capacity: count)
            slots.initialize(repeating: nil)
        }

        deinit {
            slots.deinitialize()
            slots.deallocate()
        }

        /// `demotions` has every peer of the model: nil for one with no demotion memory (removed).
        func store(_ index: Int, _ ranking: ModelRanking, demotions: [(String, DemotionState?)]) {
            slots[index] = (ranking, demotions)
        }

        var all: [(ModelRanking, [(String, DemotionState?)])] { slots.map { $0! } }
    }

    private static func rankModel(
        _ model: String, peers: [Endpoint], input: ScoringInput, demotions: inout [String: DemotionState]
    ) -> ModelRanking {
        let policy = input.policy
        let active = peers.filter(\.enabled)
        let stats = Dictionary(uniqueKeysWithValues: peers.map { ($0.id, input.stats($0.id)) })
        let shortComponents = ComponentScorer.components(
            for: active, tallies: stats.mapValues(\.short), policy: policy, priorWhenEmpty: false)
        let longComponents = ComponentScorer.components(for: active, tallies: stats.mapValues(\.long), policy: policy, priorWhenEmpty: true)
        let firing = OutlierDetection.firingReasons(for: active, stats: stats, policy: policy, fastPath: input.fastPathReasons)

        var entries: [EndpointRanking] = []
        entries.reserveCapacity(peers.count)
        for endpoint in peers {
            let windowStats = stats[endpoint.id]!
            let short = shortComponents[endpoint.id] ?? [:]
            let long = longComponents[endpoint.id] ?? [:]
            var components = blend(short: short, long: long, shortWeight: policy.windows.shortWeight)
            if let benchmark = input.benchmarks[endpoint.id] { components[.benchmark] = min(1, max(0, benchmark)) }
            let freshness = input.benchmarks[endpoint.id] == nil ? nil : input.benchmarkFreshness[endpoint.id]
            let (score, weights, missing) = weightedScore(components, weights: policy.weights, benchmarkFreshness: freshness ?? 1)

            var status = EndpointStatus.ok
            var reasons: [String] = []
            var demotedUntil: Timestamp?
            var demotedSince: Timestamp?
            let longTotal = windowStats.long.probe.total + windowStats.long.live.total
            let dataStatus = { () -> (EndpointStatus, [String]) in
                longTotal >= Int64(policy.status.minimumSamples)
                    ? (.ok, []) : (.insufficientData, [longTotal == 0 ? ReasonCode.noObservations : ReasonCode.belowMinimumSamples])
            }
            let override = input.overrides[endpoint.id]
            if !endpoint.enabled {
                status = .disabled
                reasons = [ReasonCode.disabledInConfig]
            } else {
                // The rules run whatever the override, so the demotion memory stays the rules' own.
                var state = demotions[endpoint.id] ?? DemotionState()
                let fired = firing[endpoint.id] ?? []
                state.update(firing: fired, now: input.time, policy: policy.demotion)
                // Only endpoints with something to remember are kept: an empty state is what a
                // missing one means, and a registry's worth of them would be copied at every epoch.
                demotions[endpoint.id] = state == DemotionState() ? nil : state
                if state.isDemoted {
                    status = .demoted
                    reasons = state.reasons + (fired.isEmpty ? [ReasonCode.recovering] : [])
                    demotedUntil = state.earliestRelease(policy: policy.demotion)
                    demotedSince = state.demotedAt
                } else {
                    (status, reasons) = dataStatus()
                }
                switch override?.action {
                case .disable?:
                    (status, reasons, demotedUntil, demotedSince) = (.disabled, [], nil, nil)
                case .demote?:
                    if status != .demoted { (demotedUntil, demotedSince) = (override!.expiresAt, override!.createdAt) }
                    status = .demoted
                case .pin?, .undemote?:
                    // The rules' reasons stay visible, so the reader sees what the operator overrode.
                    if status == .demoted { (status, demotedUntil, demotedSince) = (dataStatus().0, nil, nil) }
                case nil:
                    break
                }
                if let override { reasons.insert(override.action.reasonCode, at: 0) }
            }
            entries.append(
                EndpointRanking(
                    rank: 0, endpointID: endpoint.id, provider: endpoint.provider, baseURL: endpoint.baseURL,
                    upstreamModel: endpoint.upstreamModel, score: rounded(score), status: status,
                    components: named(components), samples: Samples(probe: windowStats.long.probe.total, live: windowStats.long.live.total),
                    reasons: reasons, demotedUntil: demotedUntil,
                    explanation: Explanation(
                        weights: named(weights), missingComponents: missing.map(\.rawValue).sorted(),
                        shortWindow: named(short), longWindow: named(long),
                        stats: rawStats(
                            windowStats.short.combined, benchmark: input.benchmarks[endpoint.id], benchmarkFreshness: freshness,
                            policy: policy))))
            entries[entries.count - 1].demotedSince = demotedSince
            entries[entries.count - 1].override = endpoint.enabled ? override : nil
        }

        // Never demote every endpoint: when all enabled ones are demoted, rank them by score and say so.
        // An operator's demotion is a decision, not a measurement: it stands.
        var modelReasons: [String] = []
        let enabledEntries = entries.indices.filter { entries[$0].status != .disabled }
        if !enabledEntries.isEmpty, enabledEntries.allSatisfy({ entries[$0].status == .demoted }) {
            modelReasons.append(ReasonCode.allEndpointsDegraded)
            for index in enabledEntries where entries[index].override?.action != .demote {
                let long = stats[entries[index].endpointID]!.long
                let total = long.probe.total + long.live.total
                entries[index].status = total < Int64(policy.status.minimumSamples) ? .insufficientData : .ok
                entries[index].reasons.append(ReasonCode.allEndpointsDegraded)
                entries[index].demotedUntil = nil
                entries[index].demotedSince = nil
            }
        }

        // Shares, then the rank order: pinned first, then by tier (ok and insufficient data
        // together unless the policy puts the latter after), then those with a lowered share
        // (slow, rate-limited) after the others, then the top quality tier before the endpoints
        // known to be worse, then by routing score. Exact ties
        // go to the cheaper endpoint, then the one with more evidence, then a draw seeded by the
        // epoch: never the endpoint's name, so no endpoint is first because of how it is spelled.
        let evidence = peers.map { TrafficShares.Evidence(stats[$0.id]!, policy: policy) }
        let limits = peers.map { input.shareLimits[$0.id] }
        let (routingScores, topTier, limited) = TrafficShares.assign(&entries, evidence: evidence, limits: limits, policy: policy)
        let afterOK = policy.routing.insufficientData == .afterOK
        let keys = entries.indices.map { index in
            let entry = entries[index]
            let tier: Int
            switch entry.status {
            case .ok: tier = 0
            case .insufficientData: tier = afterOK ? 1 : 0
            case .demoted: tier = 2
            case .disabled: tier = 3
            }
            var tieDraw = SplitMix64(seed: UInt64(bitPattern: input.epochID) ^ FNV1a.hash(entry.endpointID))
            return (
                pinned: entry.override?.action == .pin, tier: tier, lowerQuality: tier < 2 && !topTier[index], limited: limited[index],
                routing: routingScores[index], score: entry.score,
                price: RoutePlanner.blendedPrice(peers[index].pricing),
                evidence: evidence[index].toolCallRequests + evidence[index].reliabilityRequests,
                draw: tieDraw.next()
            )
        }
        let order = keys.indices.sorted { l, r in
            let (lhs, rhs) = (keys[l], keys[r])
            if lhs.pinned != rhs.pinned { return lhs.pinned }
            if lhs.tier != rhs.tier { return lhs.tier < rhs.tier }
            if lhs.limited != rhs.limited { return rhs.limited }
            if lhs.lowerQuality != rhs.lowerQuality { return rhs.lowerQuality }
            if lhs.routing != rhs.routing { return lhs.routing > rhs.routing }
            if lhs.score != rhs.score { return lhs.score > rhs.score }
            if lhs.price != rhs.price { return lhs.price < rhs.price }
            if lhs.evidence != rhs.evidence { return lhs.evidence > rhs.evidence }
            return lhs.draw < rhs.draw
        }
        entries = order.map { entries[$0] }
        for index in entries.indices { entries[index].rank = index + 1 }
        return ModelRanking(model: model, endpoints: entries, reasons: modelReasons)
    }

    /// Short and long window components blended; a component present in one window only is taken as is.
    static func blend(short: ComponentValues, long: ComponentValues, shortWeight: Double) -> ComponentValues {
        var result = ComponentValues()
        for component in Component.allCases {
            switch (short[component], long[component]) {
            case let (s?, l?): result[component] = shortWeight * s + (1 - shortWeight) * l
            case let (s?, nil): result[component] = s
            case let (nil, l?): result[component] = l
            case (nil, nil): break
            }
        }
        return result
    }

    /// Weighted mean over present components; missing components' weights are spread
    /// proportionally over the present ones. Returns the score, the normalised weights and what was missing.
    /// The score from the components present, their weights normalised to sum to 1; an aging
    /// benchmark keeps `benchmarkFreshness` of its weight (the others take the rest).
    static func weightedScore(_ components: ComponentValues, weights: Policy.Weights, benchmarkFreshness: Double = 1) -> (
        Double, ComponentValues, [Component]
    ) {
        let weight = { (component: Component) in weights.weight(of: component) * (component == .benchmark ? benchmarkFreshness : 1) }
        let present = Component.allCases.filter { components[$0] != nil && weight($0) > 0 }
        let missing = Component.allCases.filter { components[$0] == nil && weights.weight(of: $0) > 0 }
        let total = present.reduce(0) { $0 + weight($1) }
        guard total > 0 else { return (0, ComponentValues(), missing) }
        var normalised = ComponentValues()
        var score = 0.0
        for component in present {
            let weight = weight(component) / total
            normalised[component] = rounded(weight)
            score += weight * components[component]!
        }
        return (min(1, max(0, score)), normalised, missing)
    }

    static func rawStats(_ tally: Tally, benchmark: Double?, benchmarkFreshness: Double? = nil, policy: Policy) -> EndpointStats {
        let reliability = tally.reliabilityCounts(ignoring: Set(policy.reliability.ignoredOutcomes))
        let (ttftP50, ttftP90) = tally.ttftMilliseconds.quantiles(0.5, 0.9)
        return EndpointStats(
            requests: tally.total, toolCallRequests: tally.toolCallRequests,
            toolCallFailureRate: tally.toolCallRequests > 0
                ? rounded(Double(tally.toolCallFailures) / Double(tally.toolCallRequests)) : nil,
            errorRate: reliability.requests > 0 ? rounded(Double(reliability.failures) / Double(reliability.requests)) : nil,
            ttftP50Milliseconds: ttftP50.map(rounded),
            ttftP90Milliseconds: ttftP90.map(rounded),
            outputTokensPerSecondP50: tally.outputTokensPerSecond.quantile(0.5).map(rounded),
            benchmark: benchmark.map(rounded), benchmarkFreshness: benchmark == nil ? nil : rounded(benchmarkFreshness ?? 1))
    }

    /// The values as published: each rounded (`rounded`).
    static func named(_ values: ComponentValues) -> ComponentValues {
        var named = ComponentValues()
        for component in Component.allCases { named[component] = values[component].map(rounded) }
        return named
    }

    /// Six decimals: enough for ordering, stable in JSON and SQLite.
    static func rounded(_ value: Double) -> Double {
        (value * 1_000_000).rounded() / 1_000_000
    }
}

/// How the scorer spreads models over threads. The core itself runs one thread (`serial`); the
/// daemon passes one over all cores (RankdPlatform's `Parallel.scoring`).
public struct ScoringParallelism: Sendable {
    /// Registries of this many endpoints or more are spread over `workers`.
    public var fromEndpoints: Int
    /// Most threads to use.
    public var workers: Int
    /// Calls `body(0..<iterations)` on up to that many threads at once and returns once every
    /// call has.
    public var run: @Sendable (_ iterations: Int, _ body: @Sendable (Int) -> Void) -> Void

    public init(fromEndpoints: Int = Scorer.parallelFromEndpoints, workers: Int, run: @escaping @Sendable (Int, @Sendable (Int) -> Void) -> Void) {
        self.fromEndpoints = fromEndpoints
        self.workers = workers
        self.run = run
    }

    /// One thread, whatever the registry's size.
    public static let serial = ScoringParallelism(fromEndpoints: .max, workers: 1) { iterations, body in
        for index in 0..<iterations { body(index) }
    }
}
