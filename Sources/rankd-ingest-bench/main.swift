import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

// Sustained-ingest benchmark (benchmarks/ingest-vs-sqlite.sh runs it): NDJSON batches of
// telemetry records posted to a running rankd on loopback, durable before each acknowledgement,
// against a baseline measured in the same run: raw SQLite inserts of the same rows (prepared
// statement, request_id primary key, WAL, synchronous FULL as rankd uses) in one transaction per
// batch. Usage: rankd-ingest-bench URL TOKEN SECONDS BASELINE_SECONDS CONCURRENCY ENDPOINTS_CSV DIR
// URL may be several, comma-separated (replicas): client i posts to the (i mod n)-th.
// BASELINE_SECONDS 0 skips the SQLite baseline (benchmarks/ingest-postgres.sh has its own).

let arguments = CommandLine.arguments
guard arguments.count == 8, let seconds = Double(arguments[3]), let baselineSeconds = Double(arguments[4]),
    let concurrency = Int(arguments[5])
else {
    print("usage: rankd-ingest-bench URL TOKEN SECONDS BASELINE_SECONDS CONCURRENCY ENDPOINTS_CSV DIR")
    exit(2)
}
let urls = arguments[1].split(separator: ",").map { URL(string: $0 + "/v1/telemetry")! }
let url = urls[0]
let token = arguments[2]
// model|provider,model|provider,... or @FILE with one model|provider per line (for thousands of endpoints).
let endpointList = arguments[6].hasPrefix("@") ? (try String(contentsOfFile: String(arguments[6].dropFirst()), encoding: .utf8)) : arguments[6]
let endpoints = endpointList.split(whereSeparator: { $0 == "," || $0 == "\n" }).map { $0.split(separator: "|").map(String.init) }
let directory = arguments[7]
let batchSize = 1_000

/// One telemetry record of the flood, as NDJSON: the `index`-th of its batch.
func record(id: String, timestamp: String, endpoint: [String], index: Int) -> String {
    "{\"request_id\":\"\(id)\",\"timestamp\":\"\(timestamp)\",\"model\":\"\(endpoint[0])\",\"provider\":\"\(endpoint[1])\","
        + "\"status\":200,\"ttft_ms\":\(200 + index % 300),\"latency_ms\":\(1_200 + index % 900),\"prompt_tokens\":1500,"
        + "\"completion_tokens\":\(60 + index % 200),\"tools_offered\":true,\"tool_call_valid\":\(index % 50 != 0),\"finish_reason\":\"tool_calls\"}\n"
}

/// Batches of 1,000 records, the endpoints taken in turn from `first` on (so that successive
/// batches cover every endpoint), built once per starting endpoint and then only stamped: each
/// request copies its template and writes its worker and batch number into the fixed-width
/// request ids and the current second into the timestamps. Building records by string
/// interpolation costs the generator about as much CPU as rankd spends taking them, and the two
/// share the machine's cores; stamped templates leave the cores to rankd.
final class StampedBatches: @unchecked Sendable {
    struct Template {
        var bytes: [UInt8]
        var idOffsets: [Int]  // where each record's 12 digits of worker and batch number start
        var timeOffsets: [Int]  // where each record's 20-character timestamp starts
    }
    private let lock = NSLock()
    private var templates: [Int: Template] = [:]
    private static let idPlaceholder = "000000000000"
    private static let timePlaceholder = "0000-00-00T00:00:00Z"

    func body(worker: Int, number: Int, first: Int, now: String) -> Data {
        var template = self.template(first: first % endpoints.count)
        let stamp = Array(String(format: "%03d%09d", worker % 1_000, number % 1_000_000_000).utf8)
        let time = Array(now.utf8)
        precondition(time.count == 20, "timestamp must be 20 characters, got \(now)")
        template.bytes.withUnsafeMutableBufferPointer { bytes in
            for offset in template.idOffsets {
                for (k, byte) in stamp.enumerated() { bytes[offset + k] = byte }
            }
            for offset in template.timeOffsets {
                for (k, byte) in time.enumerated() { bytes[offset + k] = byte }
            }
        }
        return Data(template.bytes)
    }

    private func template(first: Int) -> Template {
        lock.lock()
        defer { lock.unlock() }
        if let template = templates[first] { return template }
        var text = ""
        var idOffsets: [Int] = []
        var timeOffsets: [Int] = []
        for index in 0..<batchSize {
            let line = record(
                id: "s\(Self.idPlaceholder)-\(String(format: "%04d", index))", timestamp: Self.timePlaceholder,
                endpoint: endpoints[(first + index) % endpoints.count], index: index)
            let start = text.utf8.count
            let utf8 = Array(line.utf8)
            idOffsets.append(start + find(Array("\"request_id\":\"s".utf8), in: utf8))
            timeOffsets.append(start + find(Array("\"timestamp\":\"".utf8), in: utf8))
            text += line
        }
        let template = Template(bytes: Array(text.utf8), idOffsets: idOffsets, timeOffsets: timeOffsets)
        templates[first] = template
        return template
    }

    /// The offset just past `needle` in `haystack`.
    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int {
        for start in 0...(haystack.count - needle.count) where Array(haystack[start..<start + needle.count]) == needle {
            return start + needle.count
        }
        preconditionFailure("template field not found")
    }
}
let stamped = StampedBatches()

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

final class Counter: @unchecked Sendable {
    let lock = NSLock()
    var accepted = 0
    var failures = 0
    var throttled = 0
    var finished = 0
}

/// A keep-alive HTTP/1.1 connection to the daemon on loopback, with blocking socket calls.
/// URLSession on Linux moves each body through dispatch sources in small pieces: the generator
/// then spends as much CPU (mostly context switches) as rankd does taking the records, and the
/// two share the machine's cores.
final class Connection {
    private let host: String
    private let port: UInt16
    private var socket: Int32 = -1
    private var buffer: [UInt8] = []

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    deinit { if socket >= 0 { close(socket) } }

    /// POSTs `body` to `path`; the status and the response body, or nil when the connection
    /// failed (it is reopened on the next call).
    func post(path: String, headers: [(String, String)], body: Data) -> (Int, [UInt8])? {
        if socket < 0, !open() { return nil }
        var head = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        guard send(Array(head.utf8)), body.withUnsafeBytes({ send(Array($0.bindMemory(to: UInt8.self))) }),
            let response = readResponse()
        else {
            close(socket)
            socket = -1
            buffer = []
            return nil
        }
        return response
    }

    private func open() -> Bool {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(fd)
            return false
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        socket = fd
        return true
    }

    private func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return false }
            sent += count
        }
        return true
    }

    /// Reads one response with a Content-Length body (what Hummingbird sends for these answers).
    private func readResponse() -> (Int, [UInt8])? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = buffer.firstRange(of: separator)?.upperBound
            if headerEnd == nil, !receive() { return nil }
        }
        guard let end = headerEnd, let head = String(bytes: buffer[..<end], encoding: .utf8) else { return nil }
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { return nil }
        var length = 0
        var closing = false
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            switch parts[0].lowercased() {
            case "content-length": length = Int(value) ?? 0
            case "connection": closing = value.lowercased() == "close"
            default: break
            }
        }
        while buffer.count < end + length {
            if !receive() { return nil }
        }
        let body = Array(buffer[end..<end + length])
        buffer.removeFirst(end + length)
        if closing {  // the server ends the connection after this answer: the next post reopens it
            close(socket)
            socket = -1
            buffer = []
        }
        return (status, body)
    }

    private func receive() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress!, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[..<count])
        return true
    }
}

// rankd: CONCURRENCY clients (a thread each) posting batches back to back.
func rankd() -> (Double, Int, Int) {
    let counter = Counter()
    let started = Date()
    let targets: [(host: String, port: UInt16)] = urls.map { url in
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false), let host = components.host,
            let port = components.port.flatMap(UInt16.init)
        else {
            print("URL must be http://HOST:PORT with a numeric IPv4 host and a port, got \(url)")
            exit(2)
        }
        return (host, port)
    }
    let threads = (0..<concurrency).map { worker in
        Thread {
            let target = targets[worker % targets.count]
            let connection = Connection(host: target.host, port: target.port)
            let headers = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/x-ndjson")]
            let formatter = ISO8601DateFormatter()
            var number = 0
            while Date().timeIntervalSince(started) < seconds {
                let body = stamped.body(
                    worker: worker, number: number, first: (worker * 7_919 + number) * batchSize,
                    now: formatter.string(from: Date()))
                number += 1
                guard let (status, data) = connection.post(path: url.path, headers: headers, body: body) else {
                    counter.lock.withLock { counter.failures += 1 }
                    usleep(10_000)
                    continue
                }
                let accepted = (try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any])?["accepted"] as? Int ?? 0
                counter.lock.withLock {
                    if status == 200 {
                        counter.accepted += accepted
                    } else if status == 429 {
                        counter.throttled += 1
                    } else {
                        counter.failures += 1
                    }
                }
            }
            counter.lock.withLock { counter.finished += 1 }
        }
    }
    threads.forEach { $0.start() }
    // Records accepted in each whole minute of the run (a sustained rate, not only the average).
    var minuteRates: [Int] = []
    var acceptedBefore = 0
    while counter.lock.withLock({ counter.finished }) < concurrency {
        usleep(10_000)
        if Date().timeIntervalSince(started) >= Double(minuteRates.count + 1) * 60 {
            let accepted = counter.lock.withLock { counter.accepted }
            minuteRates.append((accepted - acceptedBefore) / 60)
            acceptedBefore = accepted
        }
    }
    if !minuteRates.isEmpty {
        let rates = minuteRates.map(String.init).joined(separator: " ")
        print("rankd records/s in each minute: \(rates) (lowest \(minuteRates.min()!))")
    }
    return (Double(counter.accepted) / Date().timeIntervalSince(started), counter.throttled, counter.failures)
}

let baselineRate = baselineSeconds > 0 ? try baseline() : 0
if baselineSeconds > 0 {
    print(
        String(
            format: "baseline (raw SQLite, 1 transaction per 1,000 rows, synchronous FULL): %.0f rows/s over %.0f s", baselineRate,
            baselineSeconds))
}
let (rate, throttled, failures) = rankd()
print(
    String(
        format:
            "rankd (POST /v1/telemetry NDJSON, 1,000 per batch, %d clients, acknowledged = committed): %.0f records/s over %.0f s (%d batches got 429, %d failed)",
        concurrency, rate, seconds, throttled, failures))
if baselineSeconds > 0 {
    print(String(format: "ratio rankd/baseline: %.2f (goal >= 0.5); goal >= 100,000 records/s", rate / baselineRate))
}
