import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `rankd ingest FILE`: posts an NDJSON file of telemetry records to a running rankd in batches
/// (a backfill), with a progress line; 429 and connection errors are retried, so every line is
/// sent and counted once (replays are deduplicated by request_id).
struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Post an NDJSON file of telemetry records to a running rankd (backfill).",
        discussion: """
            Records older than the policy's dedupe window (1 h by default) are refused by the daemon, since they could not
            be counted exactly once; the summary lists each rejected line with its reason. Exit status: 0 when every line was
            accepted or was a duplicate, 1 when some were rejected, 2 on a usage or connection error.
            """)

    @Argument(help: "NDJSON file, one record per line (docs/telemetry.md); - for standard input.")
    var file: String

    @Option(help: "rankd's base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "Environment variable holding the ingest token.")
    var tokenEnv = "RANKD_INGEST_TOKEN"

    @Option(help: "Records per request.")
    var batch = 1_000

    func validate() throws {
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be 1...100000") }
        guard URL(string: url)?.scheme?.hasPrefix("http") == true else { throw ValidationError("--url \(url) is not an http(s) URL") }
    }

    func run() async throws {
        guard let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty else {
            print("rankd ingest: set \(tokenEnv) to the ingest token (tokens.ingest of the daemon's configuration)")
            throw ExitCode(2)
        }
        let text: String
        do {
            text =
                file == "-"
                ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                : try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            print("rankd ingest: cannot read \(file): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        // Non-blank lines with their line numbers in the file.
        var lines: [(number: Int, text: Substring)] = []
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            lines.append((offset + 1, line))
        }
        let endpoint = URL(string: url.hasSuffix("/") ? url + "v1/telemetry" : url + "/v1/telemetry")!
        var totals = (accepted: 0, duplicates: 0, rejected: 0)
        var rejections: [String] = []
        let started = ContinuousClock.now
        var sent = 0
        while sent < lines.count {
            let chunk = lines[sent..<min(sent + batch, lines.count)]
            var request = URLRequest(url: endpoint)
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(chunk.map(\.text).joined(separator: "\n").utf8)
            let answer = try await post(request)
            totals.accepted += answer["accepted"] as? Int ?? 0
            totals.duplicates += answer["duplicates"] as? Int ?? 0
            for item in answer["rejected"] as? [[String: Any]] ?? [] {
                totals.rejected += 1
                let index = item["index"] as? Int ?? 0
                let line = chunk[chunk.startIndex + min(index, chunk.count - 1)].number
                if rejections.count < 20 { rejections.append("  line \(line): \(item["field"] ?? "?") \(item["reason"] ?? "")") }
            }
            sent += chunk.count
            let seconds = max(
                0.001,
                Double((ContinuousClock.now - started).components.attoseconds) / 1e18
                    + Double((ContinuousClock.now - started).components.seconds))
            FileHandle.standardError.write(
                Data(
                    "\rsent \(sent)/\(lines.count) records: \(totals.accepted) accepted, \(totals.duplicates) duplicates, \(totals.rejected) rejected (\(Int(Double(sent) / seconds)) records/s)   "
                        .utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print(
            "\(lines.count) records: \(totals.accepted) accepted, \(totals.duplicates) duplicates (already counted), \(totals.rejected) rejected"
        )
        if !rejections.isEmpty {
            print("rejected (first \(rejections.count)):\n" + rejections.joined(separator: "\n"))
            throw ExitCode(1)
        }
    }

    /// Posts one batch; retries 429 (after Retry-After), 503 and connection errors, up to 10 times.
    func post(_ request: URLRequest) async throws -> [String: Any] {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
                switch status {
                case 200,
                    400 where json["rejected"] != nil:
                    return json
                case 429,
                    503 where attempt < 10:
                    let wait = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) ?? 1
                    try await Task.sleep(for: .seconds(wait))
                default:
                    let message =
                        (json["error"] as? [String: Any])?["message"] as? String ?? String(decoding: data.prefix(300), as: UTF8.self)
                    print("\nrankd ingest: \(request.url!.absoluteString) answered \(status): \(message)")
                    throw ExitCode(2)
                }
            } catch let error as ExitCode {
                throw error
            } catch {
                guard attempt < 10 else {
                    print("\nrankd ingest: cannot reach \(request.url!.absoluteString): \(error.localizedDescription)")
                    throw ExitCode(2)
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
