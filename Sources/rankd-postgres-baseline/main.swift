import Foundation
import Logging
import PostgresNIO

// The baseline of benchmarks/ingest-postgres.sh: PostgreSQL's own bulk insert of the rows rankd
// is sent (the telemetry fields, request_id the primary key), 1,000 per multi-row INSERT, one
// transaction each (the server's default durability: fsync and synchronous_commit on, as for
// rankd's appends), from CONCURRENCY connections for SECONDS.
// Usage: rankd-postgres-baseline HOST PORT USER DATABASE SECONDS CONCURRENCY

let arguments = CommandLine.arguments
guard arguments.count == 7, let port = Int(arguments[2]), let seconds = Double(arguments[5]), let concurrency = Int(arguments[6]) else {
    print("usage: rankd-postgres-baseline HOST PORT USER DATABASE SECONDS CONCURRENCY")
    exit(2)
}
let logger = Logger(label: "baseline")
let configuration = PostgresClient.Configuration(
    host: arguments[1], port: port, username: arguments[3], password: nil, database: arguments[4], tls: .disable)
let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
let batchSize = 1_000

let rows = try await withThrowingTaskGroup(of: Int.self) { group in
    group.addTask {
        await client.run()
        return 0
    }
    // The pool serves once its run loop has started.
    try await Task.sleep(for: .milliseconds(200))
    try await client.query(
        """
        CREATE TABLE IF NOT EXISTS telemetry_baseline (
            request_id TEXT PRIMARY KEY, timestamp TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL, status INTEGER,
            ttft_ms DOUBLE PRECISION, latency_ms DOUBLE PRECISION, prompt_tokens INTEGER, completion_tokens INTEGER,
            tools_offered BOOLEAN, tool_call_valid BOOLEAN, finish_reason TEXT)
        """, logger: logger)
    let started = ContinuousClock.now
    var workers: [Task<Int, any Error>] = []
    for worker in 0..<concurrency {
        workers.append(
            Task {
                var inserted = 0
                var number = 0
                while ContinuousClock.now - started < .seconds(seconds) {
                    let now = ISO8601DateFormatter().string(from: Date())
                    let ids = (0..<batchSize).map { "b\(worker)-\(number)-\($0)" }
                    let times = Array(repeating: now, count: batchSize)
                    let models = Array(repeating: "meta-llama/llama-3.3-70b-instruct", count: batchSize)
                    let providers = (0..<batchSize).map { "provider\($0 % 8 + 1)" }
                    let statuses = Array(repeating: 200, count: batchSize)
                    let ttfts = (0..<batchSize).map { Double(200 + $0 % 300) }
                    let latencies = (0..<batchSize).map { Double(1_200 + $0 % 900) }
                    let prompts = Array(repeating: 1_500, count: batchSize)
                    let completions = (0..<batchSize).map { 60 + $0 % 200 }
                    let offered = Array(repeating: true, count: batchSize)
                    let valid = (0..<batchSize).map { $0 % 50 != 0 }
                    let reasons = Array(repeating: "tool_calls", count: batchSize)
                    try await client.query(
                        """
                        INSERT INTO telemetry_baseline SELECT * FROM unnest(\(ids)::text[], \(times)::text[], \(models)::text[],
                            \(providers)::text[], \(statuses)::int[], \(ttfts)::float8[], \(latencies)::float8[], \(prompts)::int[],
                            \(completions)::int[], \(offered)::bool[], \(valid)::bool[], \(reasons)::text[])
                        """, logger: logger)
                    inserted += batchSize
                    number += 1
                }
                return inserted
            })
    }
    var total = 0
    for worker in workers { total += try await worker.value }
    let elapsed = ContinuousClock.now - started
    group.cancelAll()
    return (total, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
print(
    String(
        format: "baseline (PostgreSQL multi-row INSERT of the same fields, 1,000 rows per transaction, %d connections): %.0f rows/s over %.0f s",
        concurrency, Double(rows.0) / rows.1, rows.1))
