import Foundation
import GRDB
import RankdCore
import RankdStore

// Writes a data directory as a long-running rankd would leave it, for the start-up benchmark
// (benchmarks/startup.sh): ENDPOINTS endpoints (models of 20), minute buckets for every endpoint
// and minute of the last BUCKET_HOURS hours (probe and live traffic), and DAYS days of epoch
// history at one epoch per 5 minutes, plus the configuration listing the endpoints.
//
// Usage: rankd-startup-bench DIR [ENDPOINTS=2000] [BUCKET_HOURS=48] [DAYS=30]
// (The configuration keeps at least 25 h of buckets and 1 day of history, the least rankd accepts,
// whatever is written: benchmarks/memory-busy-windows.sh writes 1 h and no history.)
//
// Buckets go through StateStore.addBuckets and StateStore.rollUp (the daemon's own format). The history is the daemon's
// format too: one real epoch of this registry is computed and saved, and its row is copied for
// the earlier epochs (same body, earlier ids and times), which is what start-up reads past.

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: rankd-startup-bench DIR [ENDPOINTS=2000] [BUCKET_HOURS=48] [DAYS=30]")
    exit(2)
}
let directory = arguments[1]
let endpointCount = arguments.count > 2 ? Int(arguments[2]) ?? 2_000 : 2_000
let bucketHours = arguments.count > 3 ? Int(arguments[3]) ?? 48 : 48
let days = arguments.count > 4 ? Int(arguments[4]) ?? 30 : 30
let perModel = 20
let now = Timestamp(secondsSince1970: Date().timeIntervalSince1970)

try FileManager.default.createDirectory(atPath: "\(directory)/data", withIntermediateDirectories: true)
let registry = (0..<endpointCount).map { i in
    let model = "bench/model-\(i / perModel)"
    return Endpoint(
        id: "p\(i % perModel):\(model)", model: model, provider: "p\(i % perModel)", baseURL: "http://127.0.0.1:9/p\(i % perModel)/v1",
        upstreamModel: "m")
}
var yaml = """
    epoch_interval_seconds: 300
    retention:
      minute_buckets_hours: \(max(bucketHours, 25))
      epoch_history_days: \(max(days, 1))
    endpoints:

    """
for endpoint in registry {
    yaml += "  - {provider: \(endpoint.provider), model: \(endpoint.model), base_url: \"\(endpoint.baseURL)\", upstream_model: m}\n"
}
try yaml.write(toFile: "\(directory)/rankd.yaml", atomically: true, encoding: .utf8)

/// A minute of an endpoint: about 600 live requests and 1 probe, TTFT and throughput spread over
/// a few dozen histogram bins, as real traffic gives.
func tally(_ endpoint: Int, _ minute: Int64, source: ObservationSource) -> Tally {
    var random = SplitMix64(seed: UInt64(endpoint) &* 1_000_003 &+ UInt64(minute) &* 7 &+ (source == .live ? 1 : 2))
    var tally = Tally()
    for _ in 0..<(source == .live ? 600 : 1) {
        let u = random.uniform()
        let outcome: Outcome = u < 0.01 ? .http5xx : u < 0.03 ? .schemaViolation : .ok
        let spread = exp((random.uniform() - 0.5) * 1.2)
        tally.record(
            Observation(
                endpointID: "", time: now, source: source, outcome: outcome, toolsOffered: true,
                ttftMilliseconds: 300 * spread, outputTokensPerSecond: 80 / spread))
    }
    return tally
}

let started = Date()
let store = try StateStore(path: "\(directory)/data/state.db")
try store.registry.save(registry, at: now)
let lastMinute = now.minute - 1
let firstMinute = lastMinute - Int64(bucketHours * 60) + 1
// A few distinct tallies per endpoint, reused across minutes: the stored rows are as many and as
// large as real ones; drawing 600 requests for each of millions of minutes would only slow set-up.
let variants = 8
var buckets = 0
var engine = RankingEngine(policy: .default, endpoints: registry, now: now)
// Loaded as the daemon's window ledger rebuilds its windows (the epoch is computed at `now`: no advance).
var windows = RankingEngine.windows(for: .default, now: now)
let longStart = now.adding(seconds: -Policy.default.windows.longSeconds).minute
for (index, endpoint) in registry.enumerated() {
    let live = (0..<variants).map { tally(index, Int64($0), source: .live) }
    let probe = (0..<variants).map { tally(index, Int64($0), source: .probe) }
    var batch: [MinuteBucket] = []
    for minute in firstMinute...lastMinute {
        let k = Int(minute % Int64(variants))
        batch.append(MinuteBucket(endpointID: endpoint.id, minute: minute, source: .live, tally: live[k]))
        if minute % 15 == 0 { batch.append(MinuteBucket(endpointID: endpoint.id, minute: minute, source: .probe, tally: probe[k])) }
    }
    try store.buckets.add(batch)
    for bucket in batch where bucket.minute >= longStart { windows.load(bucket) }
    buckets += batch.count
}
// The daemon rolls every whole hour before its short window up into hour_buckets at each epoch.
let rollUpStarted = Date()
windows.packPast()
let hourRows = try store.buckets.rollUp(beforeMinute: now.minute - windows.shortWindowMinutes + 1)
print(String(format: "rolled up %d hour rows in %.1f s", hourRows, Date().timeIntervalSince(rollUpStarted)))
let epoch = engine.computeEpoch(now: now, trigger: .scheduled, windows: windows.totals)
let history = days * 24 * 12
let historyEpoch = Epoch(id: Int64(history), computedAt: now, policyHash: epoch.policyHash, trigger: .scheduled, models: epoch.models)
try store.history.save(historyEpoch, demotions: engine.demotions)
// As the daemon does at start: the policy its epochs name, for `rankd replay`.
try store.history.recordPolicy(.default, at: now.adding(seconds: -Double(days) * 86_400))
let queue = try DatabaseQueue(path: "\(directory)/data/state.db")
try queue.write { db in
    try db.execute(
        sql: """
            WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?)
            INSERT INTO epochs (id, computed_at, policy_hash, trigger, body)
            SELECT e.id - k.n, e.computed_at - 300 * k.n, e.policy_hash, e.trigger, e.body FROM epochs e, k WHERE e.id = ?
            """, arguments: [history - 1, history])
}
// The history copy is one big transaction: its WAL (as large as the history) would be checkpointed
// by the first rankd to open the file, minutes of copying that a daemon writing one epoch at a
// time never leaves behind. Checkpoint it here, as rankd's own steady state is.
try queue.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
let size = (try FileManager.default.attributesOfItem(atPath: "\(directory)/data/state.db")[.size] as? Int64) ?? 0
let body = try queue.read { db in try Int.fetchOne(db, sql: "SELECT length(body) FROM epochs WHERE id = ?", arguments: [history]) ?? 0 }
print(
    String(
        format: "%d endpoints, %d minute buckets (%d h), %d epochs of history (%d days; %.1f MB each): state.db %.0f MB, written in %.0f s",
        endpointCount, buckets, bucketHours, history, days, Double(body) / 1e6, Double(size) / 1e6, Date().timeIntervalSince(started)))
