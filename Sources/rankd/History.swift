import ArgumentParser
import Foundation
import RankdCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `rankd history --model M [--provider P]`: how ranks moved, as a table with a rank sparkline.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show how a model's ranks moved, with a sparkline of rank per endpoint.")

    @Option(help: "Model slug.")
    var model: String

    @Option(help: "Only this provider (or endpoint id): also lists every epoch.")
    var provider: String?

    @Option(help: "RFC 3339 start (default: 24 h ago).")
    var since: String?

    @Option(help: "Base URL of a running rankd (with tokens.read set there, export RANKD_READ_TOKEN).")
    var url: String = "http://127.0.0.1:8080"

    struct Answer: Decodable {
        struct Point: Decodable {
            var epoch_id: Int64
            var computed_at: String
            var trigger: String
            var endpoints: [Entry]
        }

        struct Entry: Decodable {
            var endpoint_id: String
            var provider: String
            var rank: Int
            var score: Double
            var status: String
            var reasons: [String]
        }

        var model: String
        var epochs: [Point]
    }

    func run() async throws {
        var components = URLComponents(string: (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/v1/history")
        components?.queryItems =
            [URLQueryItem(name: "model", value: model)] + (provider.map { [URLQueryItem(name: "provider", value: $0)] } ?? [])
            + (since.map { [URLQueryItem(name: "since", value: $0)] } ?? [])
        guard let endpoint = components?.url else { throw ValidationError("--url \(url) is not a URL") }
        let data: Data
        let status: Int
        do {
            (data, status) = try await APIRead.get(endpoint)
        } catch {
            print("cannot reach rankd at \(url): \(error.localizedDescription); is `rankd serve` running there?")
            throw ExitCode(1)
        }
        guard status == 200 else {
            print("rankd answered \(status): \(APIRead.hint(status: status))\(String(decoding: data, as: UTF8.self))")
            throw ExitCode(1)
        }
        print(Self.render(try JSONDecoder().decode(Answer.self, from: data), detail: provider != nil), terminator: "")
    }

    static func render(_ answer: Answer, detail: Bool) -> String {
        guard let first = answer.epochs.first, let last = answer.epochs.last else { return "\(answer.model): no epochs in this window\n" }
        var out = "\(answer.model): epochs \(first.epoch_id)…\(last.epoch_id) (\(first.computed_at) … \(last.computed_at))\n\n"
        let ids = Array(Set(answer.epochs.flatMap { $0.endpoints.map(\.endpoint_id) })).sorted()
        let width = max(10, ids.map(\.count).max() ?? 10) + 2
        out +=
            "endpoint".padding(toLength: width, withPad: " ", startingAt: 0)
            + "rank  score  status             rank over time (higher bar = better rank)\n"
        let maxRank = answer.epochs.flatMap { $0.endpoints.map(\.rank) }.max() ?? 1
        for id in ids {
            let ranks = answer.epochs.map { epoch in epoch.endpoints.first { $0.endpoint_id == id }?.rank }
            guard let current = last.endpoints.first(where: { $0.endpoint_id == id }) else { continue }
            out += id.padding(toLength: width, withPad: " ", startingAt: 0)
            out += String(current.rank).padding(toLength: 6, withPad: " ", startingAt: 0)
            out += String(format: "%.2f", current.score).padding(toLength: 7, withPad: " ", startingAt: 0)
            out += current.status.padding(toLength: 19, withPad: " ", startingAt: 0)
            out += sparkline(ranks, maxRank: maxRank) + "\n"
        }
        if detail {
            out += "\nepoch   computed at            trigger     endpoint  rank  score  status  reasons\n"
            for epoch in answer.epochs {
                for entry in epoch.endpoints {
                    out +=
                        "\(epoch.epoch_id)".padding(toLength: 8, withPad: " ", startingAt: 0)
                        + epoch.computed_at.padding(toLength: 23, withPad: " ", startingAt: 0)
                    out +=
                        epoch.trigger.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + entry.provider.padding(toLength: 10, withPad: " ", startingAt: 0)
                    out +=
                        "\(entry.rank)".padding(toLength: 6, withPad: " ", startingAt: 0)
                        + String(format: "%.2f", entry.score).padding(toLength: 7, withPad: " ", startingAt: 0)
                    out += entry.status + "  " + entry.reasons.joined(separator: ",") + "\n"
                }
            }
        }
        return out
    }

    /// One character per epoch: rank 1 is the tallest bar, the worst rank the lowest, a gap a space.
    static func sparkline(_ ranks: [Int?], maxRank: Int) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        return String(
            ranks.map { rank -> Character in
                guard let rank else { return " " }
                guard maxRank > 1 else { return bars[bars.count - 1] }
                let level = Double(maxRank - rank) / Double(maxRank - 1)
                return bars[Int((level * Double(bars.count - 1)).rounded())]
            })
    }
}
