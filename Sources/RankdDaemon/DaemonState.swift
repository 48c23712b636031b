import Foundation
import Logging
import RankdConfig
import RankdCore
import RankdServer
import RankdStore

/// The daemon's files, opened once: `state.db` (rankd's own) and `rankings.db` (for routers).
public struct DaemonStores: Sendable {
    public let state: StateStore
    public let published: PublishedStore

    public init(dataDirectory: String) throws {
        state = try StateStore(path: "\(dataDirectory)/state.db")
        published = try PublishedStore(path: "\(dataDirectory)/rankings.db")
    }
}

/// The daemon's state, opened from its data directory: the stores, the window ledger over
/// `state.db`, and the ranker that scores the ledger's totals. Each part is handed what it needs
/// here; none reaches through another for its dependencies.
public struct DaemonState: Sendable {
    public let stores: DaemonStores
    public let ledger: WindowLedger
    public let ranker: Ranker

    /// Opens (or creates) the files, records the registry, folds what a crash left in the live
    /// journal, and serves the last epoch at once. The windows are rebuilt later, by the epoch
    /// loop (`WindowLedger.rebuild`): start-up does not wait for them.
    public static func open(
        _ loaded: LoadedConfiguration, clock: any WallClock, holder: EpochHolder = EpochHolder(), metrics: RankdMetrics = RankdMetrics(),
        logger: Logger
    ) throws -> DaemonState {
        var phases = StartupPhases()
        let configuration = loaded.configuration
        let stores = try DaemonStores(dataDirectory: configuration.dataDirectory)
        phases.end("open_ms")
        let now = clock.now()
        try stores.state.registry.save(configuration.endpoints, at: now)
        phases.end("registry_ms")
        let ledger = try WindowLedger(
            buckets: stores.state.buckets, journal: stores.state.journal, policy: loaded.policy, endpoints: configuration.endpoints, now: now,
            logger: logger)
        phases.end("journal_ms")
        let ranker = try Ranker(
            loaded: loaded, stores: stores, ledger: ledger, clock: clock, holder: holder, metrics: metrics, logger: logger, phases: phases)
        return DaemonState(stores: stores, ledger: ledger, ranker: ranker)
    }
}

/// Start-up phases, timed one after the other for the "state restored" line (what start-up time
/// goes to).
struct StartupPhases {
    private(set) var timed: [(name: String, milliseconds: Double)] = []
    private var start = ContinuousClock.now

    /// Ends the phase running since the last one ended (or since this was made).
    mutating func end(_ name: String) {
        let now = ContinuousClock.now
        timed.append((name, (now - start).milliseconds))
        start = now
    }
}
