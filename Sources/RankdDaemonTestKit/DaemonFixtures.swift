import Foundation
import NIOCore
import Logging
import RankdConfig
import RankdCore
import RankdDaemon
import RankdServer
import RankdStore
import RankdTestKit

// What the daemon's HTTP and end-to-end tests share: a configuration, a quiet logger, the daemon
// state opened on it, and readers of what it stored.

/// A daemon configuration in a temporary data directory, listening on an ephemeral loopback port.
public func testConfiguration(
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

public let quietLogger: Logger = {
    var logger = Logger(label: "rankd-test")
    logger.logLevel = .critical
    return logger
}()

public func id(_ provider: String, model: String = Build.model) -> String { "\(provider):\(model)" }

/// The stored minute buckets with the live journal's records in them (read only: the daemon's
/// own fold is left to it).
public func storedBuckets(_ dir: TemporaryDirectory) throws -> [MinuteBucket] {
    try StateStore(path: dir.file("state.db")).journal.loadBucketsIncludingJournal(sinceMinute: 0)
}

/// A response body as a JSON object; a body that is not one throws (with the body in the
/// message), failing the test that asked instead of crashing the whole test process as a force
/// cast did.
public func json(_ buffer: ByteBuffer) throws -> [String: Any] {
    let text = String(buffer: buffer)
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw NotAJSONObject(text: String(text.prefix(500)))
    }
    return object
}

/// What `json(_:)` throws.
public struct NotAJSONObject: Error, CustomStringConvertible {
    public var text: String
    public var description: String { "not a JSON object: \(text)" }
}

extension DaemonState {
    /// Opens the test configuration's daemon state in `dir`.
    public static func open(_ dir: TemporaryDirectory, clock: any WallClock) throws -> DaemonState {
        try DaemonState.open(testConfiguration(dir), clock: clock, logger: quietLogger)
    }

    /// The ingest writer over this state, as the daemon builds it.
    public func ingestPipeline(clock: any WallClock, rule: Policy.Ingest) throws -> IngestPipeline {
        try IngestPipeline(
            dedupe: stores.state.dedupe, ledger: ledger, ranker: ranker, storage: ranker.holder.storage, metrics: ranker.metrics, clock: clock,
            rule: rule, logger: quietLogger)
    }
}

/// Telemetry records and an ingest configuration, for the ingest tests.
public enum TelemetryFixtures {
    public static let ingestToken = "ingest-token-0123456789"

    public static func configuration(_ dir: TemporaryDirectory, maxBodyBytes: Int = 4 << 20, queueRecords: Int = 100_000) -> LoadedConfiguration {
        var loaded = testConfiguration(dir)
        loaded.ingestToken = ingestToken
        loaded.configuration.ingest.maxBodyBytes = maxBodyBytes
        loaded.configuration.ingest.queueRecords = queueRecords
        return loaded
    }

    /// One telemetry record as JSON (`extra`: more fields, each starting with a comma).
    public static func record(
        _ id: String, provider: String = "fast", at time: Timestamp, status: Int = 200, toolCallValid: Bool? = true, extra: String = ""
    ) -> String {
        let valid = toolCallValid.map { "\($0)" } ?? "null"
        return """
            {"request_id":"\(id)","timestamp":"\(RFC3339.format(time))","model":"\(Build.model)","provider":"\(provider)",\
            "status":\(status),"ttft_ms":250,"latency_ms":1250,"prompt_tokens":900,"completion_tokens":101,\
            "tools_offered":true,"tool_call_valid":\(valid),"finish_reason":"tool_calls"\(extra)}
            """
    }

    /// Live requests stored in state.db, by endpoint provider.
    public static func storedLive(_ dir: TemporaryDirectory) throws -> [String: Int64] {
        let buckets = try storedBuckets(dir).filter { $0.source == .live }
        var totals: [String: Int64] = [:]
        for bucket in buckets { totals[String(bucket.endpointID.prefix { $0 != ":" }), default: 0] += bucket.tally.total }
        return totals
    }
}
