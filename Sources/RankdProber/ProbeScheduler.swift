import Foundation
import Logging
import RankdCore
import ServiceLifecycle
import Synchronization

/// The probe loop: asks the `ProbePlanner` which endpoints are due, runs their next case through
/// the `ProbeRunner` (at most `concurrency` at once), and hands every result to `record`. On
/// graceful shutdown it stops starting probes and cancels those in flight.
public struct ProbeScheduler: Service {
    /// What is probed, with what: a configuration reload replaces it (the loop picks it up at its
    /// next tick).
    public let targets: ProbeTargets
    let runner: ProbeRunner
    let clock: any WallClock
    let rule: Policy.Probing
    let seed: UInt64
    let record: @Sendable (ProbeRunner.Result) async -> Void
    let accounted: @Sendable (Accounting) -> Void
    let probeSooner: @Sendable () -> Set<String>
    let probedEndpoints: @Sendable (Int) -> Void
    let exposure: @Sendable () -> (version: Int64, values: [String: ProbePlanner.Exposure])
    let knownAnswerSuspects: @Sendable () -> Set<String>
    let faults: Policy.Faults
    let slowProbe: @Sendable (_ endpointID: String, _ at: Timestamp, _ waitedMilliseconds: Double) async -> Void
    let logger: Logger
    let tick: Duration
    private let inFlight = InFlight()

    /// Probes started and not finished (a test driving the loop's clock by hand advances it only
    /// when none is on its way).
    public var probesInFlight: Int { inFlight.count.load(ordering: .relaxed) }

    /// - Parameters:
    ///   - record: receives every finished probe (the daemon feeds its observation to the ranker).
    ///   - probeSooner: ids to probe at the suspicious interval: the daemon gives those demoted or
    ///     below `minimum_samples` in the current epoch (to see recovery, to reach enough evidence).
    ///   - probedEndpoints: told how many distinct endpoints have finished a probe, until all have
    ///     (the daemon's cold start waits for that first round).
    ///   - accounted: told of every finished probe's outcome and cost (the daemon's metrics).
    ///   - exposure: each endpoint's traffic share and live request rate, with a version that
    ///     changes when they do (the daemon gives the latest epoch's).
    ///   - knownAnswerSuspects: endpoints whose known-answer test leans towards failure.
    ///   - slowProbe: told when a probe has no first token `faults.latency.first_token_bound_seconds`
    ///     after it started (slow evidence before it ends).
    public init(
        endpoints: [Endpoint], suites: [ProbeSuite], runner: ProbeRunner, clock: any WallClock, rule: Policy.Probing, seed: UInt64,
        logger: Logger, tick: Duration = .milliseconds(100), probeSooner: @escaping @Sendable () -> Set<String> = { [] },
        probedEndpoints: @escaping @Sendable (Int) -> Void = { _ in },
        exposure: @escaping @Sendable () -> (version: Int64, values: [String: ProbePlanner.Exposure]) = { (0, [:]) },
        knownAnswerSuspects: @escaping @Sendable () -> Set<String> = { [] },
        faults: Policy.Faults = Policy.Faults(),
        slowProbe: @escaping @Sendable (String, Timestamp, Double) async -> Void = { _, _, _ in },
        accounted: @escaping @Sendable (Accounting) -> Void = { _ in },
        record: @escaping @Sendable (ProbeRunner.Result) async -> Void
    ) {
        self.exposure = exposure
        self.knownAnswerSuspects = knownAnswerSuspects
        self.faults = faults
        self.slowProbe = slowProbe
        targets = ProbeTargets(endpoints: endpoints, suites: suites)
        self.runner = runner
        self.clock = clock
        self.rule = rule
        self.seed = seed
        self.record = record
        self.accounted = accounted
        self.probeSooner = probeSooner
        self.probedEndpoints = probedEndpoints
        self.logger = logger
        self.tick = tick
    }

    public func run() async throws {
        var (targetsVersion, endpoints, cases) = targets.current
        guard !cases.isEmpty, !endpoints.isEmpty else {
            logger.notice("prober idle: no probe cases or no enabled endpoints")
            try? await gracefulShutdown()
            return
        }
        let state = SchedulerState(
            ProbePlanner(
                rule: rule, knownAnswers: faults.knownAnswers, endpointIDs: Array(endpoints.keys), now: clock.now(), seed: seed),
            endpointIDs: endpoints.keys)
        var exposureVersion: Int64 = -1
        var suspects: Set<String> = []
        logger.info(
            "prober started", metadata: ["endpoints": .stringConvertible(endpoints.count), "cases": .stringConvertible(cases.count)])
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let now = clock.now()
                if targets.version != targetsVersion {
                    (targetsVersion, endpoints, cases) = targets.current
                    state.planner.withLock { $0.setEndpoints(Array(endpoints.keys), now: now) }
                    exposureVersion = -1
                    logger.info(
                        "prober targets replaced",
                        metadata: ["endpoints": .stringConvertible(endpoints.count), "cases": .stringConvertible(cases.count)])
                }
                let sooner = probeSooner()
                let (version, exposures) = exposure()
                let newSuspects = knownAnswerSuspects()
                let free = rule.concurrency - inFlight.count.load(ordering: .relaxed)
                let due = state.planner.withLock { planner in
                    for id in sooner { planner.markDemoted(id, now: now) }
                    if version != exposureVersion {
                        for id in endpoints.keys { planner.setExposure(id, exposures[id] ?? ProbePlanner.Exposure(), now: now) }
                    }
                    if newSuspects != suspects {
                        for id in suspects.union(newSuspects) { planner.setKnownAnswerSuspect(id, newSuspects.contains(id), now: now) }
                    }
                    return planner.takeDue(now: now, limit: free)
                }
                exposureVersion = version
                suspects = newSuspects
                for (id, caseIndex) in due where !cases.isEmpty {
                    guard let endpoint = endpoints[id] else { continue }
                    let probe = cases[caseIndex % cases.count]
                    inFlight.count.add(1, ordering: .relaxed)
                    group.addTask {
                        await runOne(probe, endpoint: endpoint, state: state, sooner: sooner.contains(id))
                        inFlight.count.subtract(1, ordering: .relaxed)
                    }
                }
                try? await clock.sleep(seconds: Double(tick.components.seconds) + Double(tick.components.attoseconds) / 1e18)
            }
            group.cancelAll()
        }
        logger.info("prober stopped")
    }

    private func runOne(_ probe: ProbeCase, endpoint: Endpoint, state: SchedulerState, sooner: Bool) async {
        let bound = faults.latency.firstTokenBoundSeconds
        let report: @Sendable (Double) -> Void = { [slowProbe, clock, id = endpoint.id] waited in
            Task { await slowProbe(id, clock.now(), waited) }
        }
        let result = await runner.run(probe, on: endpoint, noFirstToken: bound > 0 ? (Int(bound * 1_000), report) : nil) { clock.now() }
        if case .failed("cancelled") = result.exchange.transport { return }
        let retryAfter: Double? = if case .completed(_, let seconds) = result.exchange.transport { seconds } else { nil }
        // About four bytes of JSON per prompt token: an estimate, as providers tokenize differently.
        let promptTokens = result.requestBytes / 4
        let cost = ProbePlanner.cost(promptTokens: promptTokens, completionTokens: result.exchange.outputTokens, pricing: endpoint.pricing)
        let exhausted = state.planner.withLock {
            let now = clock.now()
            $0.finished(
                endpoint.id, now: now, failed: result.verdict.outcome != .ok, demoted: sooner, retryAfterSeconds: retryAfter,
                costUSD: cost)
            return $0.budgetExhaustedCount(now: now)
        }
        accounted(Accounting(endpoint: endpoint, outcome: result.verdict.outcome, costUSD: cost, budgetExhaustedEndpoints: exhausted))
        if result.verdict.outcome != .ok {
            logger.info(
                "probe failed",
                metadata: [
                    "endpoint_id": .string(endpoint.id), "case": .string(probe.id), "outcome": .string(result.verdict.outcome.rawValue),
                    "detail": .string(result.verdict.detail),
                ])
        }
        await record(result)
        // After the record, so the epoch the cold start asks for counts this probe.
        let enabled = targets.current.endpoints.count
        if let count = state.firstRound.withLock({ remaining -> Int? in
            guard remaining.remove(endpoint.id) != nil else { return nil }
            return enabled - remaining.count
        }) {
            probedEndpoints(count)
        }
    }
}

extension ProbeScheduler {
    /// What one finished probe cost and how it went.
    public struct Accounting: Sendable {
        public var endpoint: Endpoint
        public var outcome: Outcome
        /// Estimated USD (request bytes / 4 as prompt tokens, output tokens as counted).
        public var costUSD: Double
        /// Endpoints whose daily budget is spent today, after this probe.
        public var budgetExhaustedEndpoints: Int
    }
}

/// The loop's shared state: the planner behind a lock and the in-flight count.
/// The count of probes on their way, shared by copies of the scheduler.
final class InFlight: Sendable {
    let count = Atomic<Int>(0)
}

final class SchedulerState: Sendable {
    let planner: Mutex<ProbePlanner>
    /// Enabled endpoints not yet probed once.
    let firstRound: Mutex<Set<String>>

    init(_ planner: ProbePlanner, endpointIDs: some Sequence<String>) {
        self.planner = Mutex(planner)
        firstRound = Mutex(Set(endpointIDs))
    }
}

/// The endpoints a prober probes and the cases it runs, swapped whole by a configuration reload.
public final class ProbeTargets: Sendable {
    private let state: Mutex<(version: Int, endpoints: [String: Endpoint], cases: [ProbeCase])>

    init(endpoints: [Endpoint], suites: [ProbeSuite]) {
        state = Mutex((0, Self.enabled(endpoints), suites.flatMap(\.cases)))
    }

    private static func enabled(_ endpoints: [Endpoint]) -> [String: Endpoint] {
        Dictionary(endpoints.filter(\.enabled).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    var current: (version: Int, endpoints: [String: Endpoint], cases: [ProbeCase]) { state.withLock { $0 } }
    var version: Int { state.withLock { $0.version } }

    /// Probes the enabled endpoints of `endpoints` with the cases of `suites` from the next tick on.
    public func replace(endpoints: [Endpoint], suites: [ProbeSuite]) {
        state.withLock { $0 = ($0.version + 1, Self.enabled(endpoints), suites.flatMap(\.cases)) }
    }
}
