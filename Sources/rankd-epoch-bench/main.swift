import Foundation
import GRDB
import RankdConfig
import RankdCore
import RankdPlatform

// Epoch compute at scale (benchmarks/epoch-compute.sh runs it in a release build).
//
// For N endpoints (models of 20 endpoints each) and one hour of traffic at 10 requests/s per
// endpoint, it times one epoch computed the way rankd does (`RankingEngine.computeEpoch` over the
// rolling window aggregates: minute tallies kept in memory, windows updated incrementally) and,
// for the sizes in --naive, the naive way in the same run: every raw per-request row of the
// windows read from SQLite (one indexed range scan, rows folded per endpoint) and then the same
// scorer. Both must produce the same epoch (checked). The traffic is real in count: each minute
// bucket holds 600 requests drawn from the endpoint's profile (failure rates, TTFT, throughput);
// to keep set-up short, an endpoint's minutes reuse a few pre-drawn buckets.
//
// Usage: rankd-epoch-bench [--sizes 100,1000,10000,20000] [--naive 100,1000] [--repeat 7] [--dir DIR] [--csv FILE]

struct Options {
    var sizes = [100, 1_000, 10_000, 20_000]
    var naive = [100, 1_000]
    var repetitions = 7
    var directory = NSTemporaryDirectory()
    var csv: String?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        func list(_ value: String?) -> [Int] { (value ?? "").split(separator: ",").compactMap { Int($0) } }
        while let flag = rest.popFirst() {
            switch flag {
            case "--sizes": sizes = list(rest.popFirst())
            case "--naive": naive = list(rest.popFirst())
            case "--repeat": repetitions = Int(rest.popFirst() ?? "") ?? repetitions
            case "--dir": directory = rest.popFirst() ?? directory
            case "--csv": csv = rest.popFirst()
            default:
                FileHandle.standardError.write(Data("unknown option \(flag)\nusage: rankd-epoch-bench [--sizes 100,1000] [--naive 100] [--repeat 7] [--dir DIR] [--csv FILE]\n".utf8))
                exit(2)
            }
        }
    }
}

let options = Options(CommandLine.arguments)
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let problems = ProblemList()
let policy = PolicyLoader.load(path: "\(repository)/scoring/policy.yaml", problems: problems)
guard problems.problems.isEmpty else {
    print("scoring/policy.yaml: \(problems.problems)")
    exit(1)
}
let endpointsPerModel = 20
let requestsPerMinute = 600  // 10 requests/s
let minutes = 60  // one hour of traffic
let now = Timestamp(secondsSince1970: 1_800_000_000)
let firstMinute = now.minute - Int64(minutes)
let variantsPerProfile = 4

/// The behaviour of one simulated endpoint: 16 profiles, assigned round-robin.
struct Profile {
    var toolFailure: Double
    var serverError: Double
    var ttftMedian: Double
    var tokensPerSecond: Double

    static let all: [Profile] = (0..<16).map { (i: Int) -> Profile in
        let toolFailures: [Double] = [0.01, 0.02, 0.05, 0.15]
        let serverErrors: [Double] = [0.002, 0.01, 0.03, 0.002]
        let ttft: Double = 250 + Double(i * 37 % 400)
        let tps: Double = 40 + Double(i * 13 % 120)
        return Profile(toolFailure: toolFailures[i % 4], serverError: serverErrors[(i / 4) % 4], ttftMedian: ttft, tokensPerSecond: tps)
    }
}

/// One minute of an endpoint with `profile`: 600 observations, seconds 0.0 ... 59.9 of the minute.
func minuteOfTraffic(_ profile: Profile, seed: UInt64) -> [(second: Double, outcome: Outcome, ttft: Double?, tps: Double?)] {
    var random = SplitMix64(seed: seed)
    return (0..<requestsPerMinute).map { index in
        let u = random.uniform()
        let toolFailures: [Outcome] = [.malformedArgs, .schemaViolation, .wrongValue]
        var outcome = Outcome.ok
        if u < profile.serverError {
            outcome = .http5xx
        } else if u < profile.serverError + profile.toolFailure {
            outcome = toolFailures[index % 3]
        }
        let spread: Double = exp((random.uniform() - 0.5) * 0.8)
        return (
            Double(index) / 10, outcome, outcome == .http5xx ? nil : profile.ttftMedian * spread,
            outcome == .http5xx ? nil : profile.tokensPerSecond / spread
        )
    }
}

let templates: [[(second: Double, outcome: Outcome, ttft: Double?, tps: Double?)]] = Profile.all.enumerated().flatMap { p, profile in
    (0..<variantsPerProfile).map { minuteOfTraffic(profile, seed: UInt64(p * 100 + $0)) }
}
func template(endpoint: Int, minute: Int) -> Int { (endpoint % Profile.all.count) * variantsPerProfile + (endpoint / 16 + minute) % variantsPerProfile }

let templateTallies: [Tally] = templates.map { rows in
    var tally = Tally()
    for row in rows {
        tally.record(
            Observation(
                endpointID: "", time: now, source: .live, outcome: row.outcome, toolsOffered: true, ttftMilliseconds: row.ttft,
                outputTokensPerSecond: row.tps))
    }
    return tally
}

func endpoints(_ count: Int) -> [Endpoint] {
    (0..<count).map { i in
        let model = "bench/model-\(i / endpointsPerModel)"
        return Endpoint(
            id: "p\(i % endpointsPerModel):\(model)", model: model, provider: "p\(i % endpointsPerModel)", baseURL: "http://127.0.0.1:9/v1",
            upstreamModel: "m")
    }
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
}

/// rankd's way: the windows loaded with the minute buckets as the daemon's window ledger rebuilds
/// them, then timed epochs over their totals (at the windows' own minute: no advance to read back).
func rankdEpochs(_ registry: [Endpoint], oneThread: Bool = false) -> (setup: Double, times: [Double], epoch: Epoch) {
    var engine = RankingEngine(policy: policy, endpoints: registry, now: now)
    var windows = RankingEngine.windows(for: policy, now: now)
    if !oneThread { engine.parallelism = Parallel.scoring }
    let setup = milliseconds {
        for (index, endpoint) in registry.enumerated() {
            for minute in 0..<minutes {
                windows.load(
                    MinuteBucket(
                        endpointID: endpoint.id, minute: firstMinute + Int64(minute), source: .live,
                        tally: templateTallies[template(endpoint: index, minute: minute)]))
            }
        }
        windows.packPast()
    }
    let totals = windows.totals
    // As in the daemon, the previous epoch is freed after the next one is computed (not timed).
    var previous: Epoch?
    var times: [Double] = []
    for _ in 0..<options.repetitions {
        var fresh = engine  // same state each time: no demotion memory carried between timed epochs
        var epoch: Epoch?
        times.append(milliseconds { epoch = fresh.computeEpoch(now: now, trigger: .scheduled, windows: totals) })
        previous = epoch
    }
    return (setup, times, previous!)
}

/// The naive way: raw rows in SQLite, scanned and folded at every epoch, then the same scorer.
func naiveEpochs(_ registry: [Endpoint]) throws -> (setup: Double, rows: Int, bytes: Int64, times: [Double], epoch: Epoch) {
    let path = "\(options.directory)/naive-\(registry.count).db"
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    let queue = try DatabaseQueue(path: path)
    var rows = 0
    let setup = try milliseconds {
        try queue.write { db in
            try db.execute(sql: "PRAGMA journal_mode = OFF")
            try db.execute(
                sql: "CREATE TABLE requests (endpoint INTEGER NOT NULL, t REAL NOT NULL, outcome INTEGER NOT NULL, tools INTEGER NOT NULL, ttft REAL, tps REAL)")
            let insert = try db.makeStatement(sql: "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?)")
            for index in registry.indices {
                for minute in 0..<minutes {
                    let base = Double(firstMinute + Int64(minute)) * 60
                    for row in templates[template(endpoint: index, minute: minute)] {
                        try insert.execute(arguments: [index, base + row.second, row.outcome.index, 1, row.ttft, row.tps])
                        rows += 1
                    }
                }
            }
            try db.execute(sql: "CREATE INDEX requests_by_time ON requests (t)")
        }
    }
    let bytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0
    // The windows as rankd defines them: whole minutes, the current one included.
    let shortStart = Double(now.minute - Int64((policy.windows.shortSeconds / 60).rounded(.up)) + 1) * 60
    let longStart = Double(now.minute - Int64((policy.windows.longSeconds / 60).rounded(.up)) + 1) * 60
    let end = Double(now.minute + 1) * 60
    let outcomes = Outcome.allCases
    var epoch: Epoch?
    var times: [Double] = []
    for _ in 0..<options.repetitions {
        times.append(
            try milliseconds {
                var short = [Tally](repeating: Tally(), count: registry.count)
                var long = [Tally](repeating: Tally(), count: registry.count)
                try queue.read { db in
                    let cursor = try Row.fetchCursor(
                        db, sql: "SELECT endpoint, t, outcome, tools, ttft, tps FROM requests WHERE t >= ? AND t < ?",
                        arguments: [longStart, end])
                    while let row = try cursor.next() {
                        let index: Int = row[0]
                        let time: Double = row[1]
                        let observation = Observation(
                            endpointID: "", time: Timestamp(secondsSince1970: time), source: .live, outcome: outcomes[row[2] as Int],
                            toolsOffered: (row[3] as Int) == 1, ttftMilliseconds: row[4], outputTokensPerSecond: row[5])
                        long[index].record(observation)
                        if time >= shortStart { short[index].record(observation) }
                    }
                }
                var stats: [String: WindowStats] = [:]
                for (index, endpoint) in registry.enumerated() {
                    stats[endpoint.id] = WindowStats(short: SourceTallies(live: short[index]), long: SourceTallies(live: long[index]))
                }
                epoch =
                    Scorer.score(
                        ScoringInput(
                            epochID: 1, now: now, trigger: .scheduled, policy: policy, endpoints: registry, stats: stats, benchmarks: [:],
                            demotions: [:], fastPathReasons: [:], overrides: [:]), parallelism: Parallel.scoring
                    ).epoch
            })
    }
    return (setup, rows, bytes, times, epoch!)
}

print(
    "epoch compute: models of \(endpointsPerModel) endpoints, 1 h of traffic at 10 requests/s each, median of \(options.repetitions) epochs; "
        + "all \(ProcessInfo.processInfo.activeProcessorCount) cores from \(Scorer.parallelFromEndpoints) endpoints")
var csv = "endpoints,rankd_ms,rankd_one_thread_ms,naive_ms,ratio\n"
for size in options.sizes {
    let registry = endpoints(size)
    let rankd = rankdEpochs(registry)
    let oneThread = size >= Scorer.parallelFromEndpoints ? rankdEpochs(registry, oneThread: true) : rankd
    guard oneThread.epoch.models == rankd.epoch.models else {
        print("scoring on one thread and on all cores gave different epochs at \(size) endpoints")
        exit(1)
    }
    var line = String(
        format: "%6d endpoints (%5d models): rankd %9.2f ms (min %.2f, max %.2f; loading %d minute buckets %.0f ms)", size,
        size / endpointsPerModel, median(rankd.times), rankd.times.min()!, rankd.times.max()!, size * minutes, rankd.setup)
    if size >= Scorer.parallelFromEndpoints {
        line += String(format: "\n        rankd on one thread %9.2f ms (min %.2f, max %.2f)", median(oneThread.times), oneThread.times.min()!, oneThread.times.max()!)
    }
    var naiveMedian = ""
    var ratio = ""
    if options.naive.contains(size) {
        let naive = try naiveEpochs(registry)
        let same = naive.epoch.models == rankd.epoch.models
        guard same else {
            print("\nthe naive epoch differs from rankd's at \(size) endpoints: the benchmark is not comparing like with like")
            exit(1)
        }
        naiveMedian = String(format: "%.2f", median(naive.times))
        ratio = String(format: "%.1f", median(naive.times) / median(rankd.times))
        line += String(
            format: "\n        naive %9.2f ms (min %.2f, max %.2f) over %d rows (%.0f MB, %.0f s to write); same epoch: yes; naive/rankd %.1fx",
            median(naive.times), naive.times.min()!, naive.times.max()!, naive.rows, Double(naive.bytes) / 1e6, naive.setup / 1000,
            median(naive.times) / median(rankd.times))
    }
    print(line)
    csv += "\(size),\(String(format: "%.3f", median(rankd.times))),\(String(format: "%.3f", median(oneThread.times))),\(naiveMedian),\(ratio)\n"
}
if let path = options.csv { try csv.write(toFile: path, atomically: true, encoding: .utf8) }
