import Foundation
import Logging
import RankdCore
import ServiceLifecycle
import Synchronization

/// The probe loop: asks the `ProbePlanner` which endpoints are due, runs their next case through
/// the `ProbeRunner` (at most `concurrency` at once), and hands every result to `record`. On
/// graceful shutdown it stops starting probes and cancels those in flight.
public struct ProbeScheduler: Service {
    let endpoints: [String: Endpoint]
    let cases: [ProbeCase]
    let runner: ProbeRunner
    let clock: any WallClock
    let rule: Policy.Probing
    let seed: UInt64
    let record: @Sendable (ProbeRunner.Result) async -> Void
    let accounted: @Sendable (Accounting) -> Void
    let demotedEndpoints: @Sendable () -> Set<String>
    let logger: Logger
    let tick: Duration

    /// - Parameters:
    ///   - record: receives every finished probe (the daemon feeds its observation to the ranker).
    ///   - demotedEndpoints: ids demoted in the current epoch; they are probed at the suspicious interval.
    ///   - accounted: told of every finished probe's outcome and cost (the daemon's metrics).
    public init(
        endpoints: [Endpoint], suites: [ProbeSuite], runner: ProbeRunner, clock: any WallClock, rule: Policy.Probing, seed: UInt64,
        logger: Logger, tick: Duration = .milliseconds(100), demotedEndpoints: @escaping @Sendable () -> Set<String> = { [] },
        accounted: @escaping @Sendable (Accounting) -> Void = { _ in },
        record: @escaping @Sendable (ProbeRunner.Result) async -> Void
    ) {
        self.endpoints = Dictionary(uniqueKeysWithValues: endpoints.filter(\.enabled).map { ($0.id, $0) })
        cases = suites.flatMap(\.cases)
        self.runner = runner
        self.clock = clock
        self.rule = rule
        self.seed = seed
        self.record = record
        self.accounted = accounted
        self.demotedEndpoints = demotedEndpoints
        self.logger = logger
        self.tick = tick
    }

    public func run() async throws {
        guard !cases.isEmpty, !endpoints.isEmpty else {
            logger.notice("prober idle: no probe cases or no enabled endpoints")
            try? await gracefulShutdown()
            return
        }
        let state = SchedulerState(ProbePlanner(rule: rule, endpointIDs: Array(endpoints.keys), now: clock.now(), seed: seed))
        logger.info(
            "prober started", metadata: ["endpoints": .stringConvertible(endpoints.count), "cases": .stringConvertible(cases.count)])
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let now = clock.now()
                let demoted = demotedEndpoints()
                let free = rule.concurrency - state.inFlight.load(ordering: .relaxed)
                let due = state.planner.withLock { planner in
                    for id in demoted { planner.markDemoted(id, now: now) }
                    return planner.takeDue(now: now, limit: free)
                }
                for (id, caseIndex) in due {
                    guard let endpoint = endpoints[id] else { continue }
                    let probe = cases[caseIndex % cases.count]
                    state.inFlight.add(1, ordering: .relaxed)
                    group.addTask {
                        await runOne(probe, endpoint: endpoint, state: state, demoted: demoted.contains(id))
                        state.inFlight.subtract(1, ordering: .relaxed)
                    }
                }
                try? await Task.sleep(for: tick)
            }
            group.cancelAll()
        }
        logger.info("prober stopped")
    }

    private func runOne(_ probe: ProbeCase, endpoint: Endpoint, state: SchedulerState, demoted: Bool) async {
        let result = await runner.run(probe, on: endpoint) { clock.now() }
        if case .failed("cancelled") = result.exchange.transport { return }
        let retryAfter: Double? = if case .completed(_, let seconds) = result.exchange.transport { seconds } else { nil }
        // About four bytes of JSON per prompt token: an estimate, as providers tokenize differently.
        let promptTokens = result.requestBytes / 4
        let cost = ProbePlanner.cost(promptTokens: promptTokens, completionTokens: result.exchange.outputTokens, pricing: endpoint.pricing)
        let exhausted = state.planner.withLock {
            let now = clock.now()
            $0.finished(
                endpoint.id, now: now, failed: result.verdict.outcome != .ok, demoted: demoted, retryAfterSeconds: retryAfter,
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
final class SchedulerState: Sendable {
    let planner: Mutex<ProbePlanner>
    let inFlight = Atomic<Int>(0)

    init(_ planner: ProbePlanner) {
        self.planner = Mutex(planner)
    }
}
