import Foundation
import NIOCore
import Testing
import Logging
import RankdConfig
import RankdCore
import RankdDaemon
import RankdServer
import RankdStore
import RankdTestKit

/// A daemon configuration in a temporary data directory, listening on an ephemeral loopback port.
func testConfiguration(
    _ dir: TemporaryDirectory, providers: [String] = ["fast", "steady", "slow"], adminToken: String? = "admin-token-0123456789",
    epochIntervalSeconds: Double = 300, cacheMaxAgeSeconds: Int = 5
) -> LoadedConfiguration {
    var configuration = RankdConfiguration()
    configuration.listenHost = "127.0.0.1"
    configuration.listenPort = 0
    configuration.dataDirectory = dir.path
    configuration.epochIntervalSeconds = epochIntervalSeconds
    configuration.endpoints = providers.map { Build.endpoint($0) } + [Build.endpoint("solo", model: "acme/solo-1")]
    var policy = Policy.default
    policy.publication.cacheMaxAgeSeconds = cacheMaxAgeSeconds
    return LoadedConfiguration(configuration: configuration, policy: policy, adminToken: adminToken)
}

let quietLogger: Logger = {
    var logger = Logger(label: "rankd-test")
    logger.logLevel = .critical
    return logger
}()

func id(_ provider: String, model: String = Build.model) -> String { "\(provider):\(model)" }

/// The stored minute buckets with the live journal's records in them (read only: the daemon's
/// own fold is left to it).
func storedBuckets(_ dir: TemporaryDirectory) throws -> [MinuteBucket] {
    try StateStore(path: dir.file("state.db")).journal.loadBucketsIncludingJournal(sinceMinute: 0)
}

/// A response body as a JSON object; a body that is not one fails the test that asked (with the
/// body in the message) instead of crashing the whole test process as a force cast did.
func json(_ buffer: ByteBuffer, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let text = String(buffer: buffer)
    return try #require(
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(500))",
        sourceLocation: sourceLocation)
}

extension DaemonState {
    /// Opens the test configuration's daemon state in `dir`.
    static func open(_ dir: TemporaryDirectory, clock: any WallClock) throws -> DaemonState {
        try DaemonState.open(testConfiguration(dir), clock: clock, logger: quietLogger)
    }

    /// The ingest writer over this state, as the daemon builds it.
    func ingestPipeline(clock: any WallClock, rule: Policy.Ingest) throws -> IngestPipeline {
        try IngestPipeline(
            journal: stores.state.journal, ledger: ledger, ranker: ranker, storage: ranker.holder.storage, metrics: ranker.metrics, clock: clock,
            rule: rule, logger: quietLogger)
    }
}
