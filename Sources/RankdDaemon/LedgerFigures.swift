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
        // The windows keep whole minutes: the keys are the lengths rounded up as they are.
        let aggregator = RankingEngine.windows(for: policy, now: clock.now())
        let minutes = Int64((policy.routing.preferenceWindowSeconds / 60).rounded(.up))
        preferenceWindowSeconds = Int(min(aggregator.longWindowMinutes, max(1, minutes))) * 60
        longWindowSeconds = Int(aggregator.longWindowMinutes) * 60
    }

    func figures(for endpointIDs: [String]) async throws -> [String: EndpointFigures] {
        try await ledger.figures(for: endpointIDs, now: clock.now())
    }
}
