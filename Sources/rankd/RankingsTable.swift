import Foundation
import RankdCore

/// A plain-text rank table, the same whether the ranks came from the API, rankings.db or memory.
struct RankingsTable {
    struct Row {
        var model: String
        var rank: Int
        var provider: String
        var endpointID: String
        var status: String
        var score: Double
        var components: [String: Double]
        var reasons: [String]
        /// Intended share of the model's traffic (nil from a rankd or file before shares).
        var trafficShare: Double?
    }

    var epochID: Int64
    var computedAt: String
    var rows: [Row]

    init(epochID: Int64, computedAt: String, rows: [Row]) {
        self.epochID = epochID
        self.computedAt = computedAt
        self.rows = rows
    }

    init(_ epoch: Epoch) {
        epochID = epoch.id
        computedAt = RFC3339.format(epoch.computedAt)
        rows = epoch.models.flatMap { model in
            model.endpoints.map {
                Row(
                    model: model.model, rank: $0.rank, provider: $0.provider, endpointID: $0.endpointID, status: $0.status.rawValue,
                    score: $0.score, components: $0.components.dictionary, reasons: $0.reasons, trafficShare: $0.trafficShare)
            }
        }
    }

    func render(model filter: String? = nil) -> String {
        var out = "epoch \(epochID) computed \(computedAt)\n"
        let columns: [(String, String)] = [
            ("tool", "tool_call_success"), ("rel", "reliability"), ("tput", "throughput"), ("lat", "latency"), ("bench", "benchmark"),
        ]
        for model in Array(Set(rows.map(\.model))).sorted() where filter == nil || filter == model {
            out += "\n\(model)\n"
            out += pad("rank", 5) + pad("provider", 14) + pad("status", 18) + pad("score", 7) + pad("share", 7)
            out += columns.map { pad($0.0, 6) }.joined() + "reasons\n"
            for row in rows.filter({ $0.model == model }).sorted(by: { $0.rank < $1.rank }) {
                out += pad(String(row.rank), 5) + pad(row.provider, 14) + pad(row.status, 18) + pad(format(row.score), 7)
                out += pad(row.trafficShare.map { String(format: "%.1f%%", $0 * 100) } ?? "-", 7)
                out += columns.map { pad(row.components[$0.1].map(format) ?? "-", 6) }.joined()
                out += row.reasons.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }
}
