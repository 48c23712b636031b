import Foundation
import GRDB

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

// Sustained-ingest benchmark (benchmarks/ingest-vs-sqlite.sh runs it): NDJSON batches of
// telemetry records posted to a running rankd on loopback, durable before each acknowledgement,
// against a baseline measured in the same run: raw SQLite inserts of the same rows (prepared
// statement, request_id primary key, WAL, synchronous FULL as rankd uses) in one transaction per
// batch. Usage: rankd-ingest-bench URL TOKEN SECONDS BASELINE_SECONDS CONCURRENCY ENDPOINTS_CSV DIR

let arguments = CommandLine.arguments
guard arguments.count == 8, let seconds = Double(arguments[3]), let baselineSeconds = Double(arguments[4]),
    let concurrency = Int(arguments[5])
else {
    print("usage: rankd-ingest-bench URL TOKEN SECONDS BASELINE_SECONDS CONCURRENCY ENDPOINTS_CSV DIR")
    exit(2)
}
let url = URL(string: arguments[1] + "/v1/telemetry")!
let token = arguments[2]
// model|provider,model|provider,... or @FILE with one model|provider per line (for thousands of endpoints).
let endpointList = arguments[6].hasPrefix("@") ? (try String(contentsOfFile: String(arguments[6].dropFirst()), encoding: .utf8)) : arguments[6]
let endpoints = endpointList.split(whereSeparator: { $0 == "," || $0 == "\n" }).map { $0.split(separator: "|").map(String.init) }
let directory = arguments[7]
let batchSize = 1_000

/// One batch of NDJSON records with ids `prefix-0...`, stamped now; the endpoints taken in turn
/// from `first` on, so that successive batches cover every endpoint.
func batch(_ prefix: String, first: Int = 0) -> Data {
    let now = ISO8601DateFormatter().string(from: Date())
    var text = ""
    text.reserveCapacity(batchSize * 300)
    for index in 0..<batchSize {
        let endpoint = endpoints[(first + index) % endpoints.count]
        text +=
            "{\"request_id\":\"\(prefix)-\(index)\",\"timestamp\":\"\(now)\",\"model\":\"\(endpoint[0])\",\"provider\":\"\(endpoint[1])\","
        text += "\"status\":200,\"ttft_ms\":\(200 + index % 300),\"latency_ms\":\(1_200 + index % 900),\"prompt_tokens\":1500,"
        text +=
            "\"completion_tokens\":\(60 + index % 200),\"tools_offered\":true,\"tool_call_valid\":\(index % 50 != 0),\"finish_reason\":\"tool_calls\"}\n"
    }
    return Data(text.utf8)
}

// Baseline: the same rows into SQLite directly.
func baseline() throws -> Double {
    var configuration = Configuration()
    configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    let pool = try DatabasePool(path: "\(directory)/baseline.db", configuration: configuration)
    try pool.write { db in
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS telemetry (
                    request_id TEXT PRIMARY KEY NOT NULL, timestamp TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL,
                    status INTEGER, ttft_ms REAL, latency_ms REAL, prompt_tokens INTEGER, completion_tokens INTEGER,
                    tools_offered INTEGER, tool_call_valid INTEGER, finish_reason TEXT)
                """)
    }
    let started = Date()
    var rows = 0
    var batchNumber = 0
    while Date().timeIntervalSince(started) < baselineSeconds {
        let now = ISO8601DateFormatter().string(from: Date())
        let prefix = "base-\(batchNumber)"
        batchNumber += 1
        try pool.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO telemetry (request_id, timestamp, model, provider, status, ttft_ms, latency_ms, prompt_tokens,
                    completion_tokens, tools_offered, tool_call_valid, finish_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for index in 0..<batchSize {
                let endpoint = endpoints[index % endpoints.count]
                try statement.execute(arguments: [
                    "\(prefix)-\(index)", now, endpoint[0], endpoint[1], 200, 200 + index % 300, 1_200 + index % 900, 1_500,
                    60 + index % 200,
                    true, index % 50 != 0, "tool_calls",
                ])
            }
        }
        rows += batchSize
    }
    return Double(rows) / Date().timeIntervalSince(started)
}

// rankd: CONCURRENCY clients posting batches back to back.
final class Counter: @unchecked Sendable {
    let lock = NSLock()
    var accepted = 0
    var failures = 0
    var throttled = 0
}

func rankd() async -> (Double, Int, Int) {
    let counter = Counter()
    let started = Date()
    let session = URLSession(configuration: .ephemeral)
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var number = 0
                while Date().timeIntervalSince(started) < seconds {
                    var request = URLRequest(url: url)
                    request.httpMethod = "POST"
                    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                    request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
                    request.httpBody = batch("w\(worker)-\(number)", first: (worker * 7_919 + number) * batchSize)
                    number += 1
                    do {
                        let (data, response) = try await session.data(for: request)
                        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                        let accepted = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["accepted"] as? Int ?? 0
                        counter.lock.withLock {
                            if status == 200 {
                                counter.accepted += accepted
                            } else if status == 429 {
                                counter.throttled += 1
                            } else {
                                counter.failures += 1
                            }
                        }
                    } catch {
                        counter.lock.withLock { counter.failures += 1 }
                    }
                }
            }
        }
    }
    return (Double(counter.accepted) / Date().timeIntervalSince(started), counter.throttled, counter.failures)
}

let baselineRate = try baseline()
print(
    String(
        format: "baseline (raw SQLite, 1 transaction per 1,000 rows, synchronous FULL): %.0f rows/s over %.0f s", baselineRate,
        baselineSeconds))
let (rate, throttled, failures) = await rankd()
print(
    String(
        format:
            "rankd (POST /v1/telemetry NDJSON, 1,000 per batch, %d clients, acknowledged = committed): %.0f records/s over %.0f s (%d batches got 429, %d failed)",
        concurrency, rate, seconds, throttled, failures))
print(String(format: "ratio rankd/baseline: %.2f (goal >= 0.5); goal >= 100,000 records/s", rate / baselineRate))
