import RankdCore
import RankdServer

/// The HTTP layer's per-endpoint figures, read from the window ledger as of the clock's now.
struct LedgerFigures: EndpointFiguresSource {
    let ledger: WindowLedger
    let clock: any WallClock
    let preferenceWindowSeconds: Int
    let longWindowSeconds: Int

    init(ledger: WindowLedger, clock: any WallClock, policy: Policy) {
        self.ledger = ledger
        self.clock = clock
        // The windows keep whole minutes: the keys are the lengths as the windows round them.
        let aggregator = RankingEngine.windows(for: policy, now: clock.now())
        preferenceWindowSeconds = Int(
            WindowAggregator.recentMinutes(seconds: policy.routing.preferenceWindowSeconds, longWindowMinutes: aggregator.longWindowMinutes)) * 60
        longWindowSeconds = Int(aggregator.longWindowMinutes) * 60
    }

    func figures(for endpointIDs: [String], onlyWindowSeconds: Int?) async throws -> [String: EndpointFigures] {
        try await ledger.figures(for: endpointIDs, now: clock.now(), onlyWindowSeconds: onlyWindowSeconds)
    }
}
