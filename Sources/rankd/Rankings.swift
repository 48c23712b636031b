import ArgumentParser
import Foundation
import RankdCore
import RankdStore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `rankd rankings`: the current ranks as a table (or JSON), from a running daemon or from rankings.db.
struct Rankings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show current provider ranks from the HTTP API or a rankings.db file.")

    @Option(help: "Only this model.")
    var model: String?

    @Option(help: "Base URL of a running rankd (with tokens.read set there, export RANKD_READ_TOKEN).")
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Read this rankings.db instead of the HTTP API.")
    var db: String?

    @Flag(help: "Print the API's JSON (with --db: the rows as JSON).")
    var json = false

    func run() async throws {
        if let db {
            let rows = try PublishedReader.currentRankings(path: db, model: model)
            guard let first = rows.first else {
                print("\(db): no rankings published\(model.map { " for \($0)" } ?? "")")
                throw ExitCode(1)
            }
            if json {
                let objects = rows.map { row -> [String: String] in
                    [
                        "model": row.model, "rank": String(row.rank), "endpoint_id": row.endpointID, "provider": row.provider,
                        "score": String(row.score), "status": row.status, "reasons": row.reasons,
                        "traffic_share": row.trafficShare.map { String($0) } ?? "",
                    ]
                }
                let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let table = RankingsTable(
                epochID: first.epochID, computedAt: RFC3339.format(Timestamp(secondsSince1970: Double(first.computedAt))),
                rows: rows.map {
                    .init(
                        model: $0.model, rank: $0.rank, provider: $0.provider, endpointID: $0.endpointID, status: $0.status,
                        score: $0.score, components: $0.components, reasons: $0.reasons.split(separator: ",").map(String.init),
                        trafficShare: $0.trafficShare)
                })
            print(table.render(model: model), terminator: "")
            return
        }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let path = model.map { "/v1/rankings/\($0)" } ?? "/v1/rankings"
        guard let endpoint = URL(string: base + path) else {
            throw ValidationError("--url \(url) is not a URL; write it like http://127.0.0.1:8080")
        }
        let data: Data
        let status: Int
        do {
            (data, status) = try await APIRead.get(endpoint)
        } catch {
            print("cannot reach rankd at \(base): \(error.localizedDescription); is `rankd serve` running there? (or use --db PATH)")
            throw ExitCode(1)
        }
        guard status == 200 else {
            print("rankd answered \(status): \(APIRead.hint(status: status))\(String(decoding: data, as: UTF8.self))")
            throw ExitCode(1)
        }
        if json {
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(try Self.table(fromAPI: data, model: model).render(model: model), terminator: "")
    }

    /// Reads `/v1/rankings` or `/v1/rankings/{model}` JSON into a table.
    static func table(fromAPI data: Data, model: String?) throws -> RankingsTable {
        struct Entry: Decodable {
            var rank: Int
            var provider: String
            var endpoint_id: String
            var status: String
            var score: Double
            var components: [String: Double]
            var reasons: [String]
            var traffic_share: Double?
        }
        struct Header: Decodable {
            var id: Int64
            var computed_at: String
        }
        struct All: Decodable {
            var epoch: Header
            var models: [String: [Entry]]
        }
        struct One: Decodable {
            var epoch: Header
            var model: String
            var endpoints: [Entry]
        }
        let decoder = JSONDecoder()
        let header: Header
        let byModel: [String: [Entry]]
        if model != nil {
            let one = try decoder.decode(One.self, from: data)
            header = one.epoch
            byModel = [one.model: one.endpoints]
        } else {
            let all = try decoder.decode(All.self, from: data)
            header = all.epoch
            byModel = all.models
        }
        let rows = byModel.flatMap { model, entries in
            entries.map {
                RankingsTable.Row(
                    model: model, rank: $0.rank, provider: $0.provider, endpointID: $0.endpoint_id, status: $0.status, score: $0.score,
                    components: $0.components, reasons: $0.reasons, trafficShare: $0.traffic_share)
            }
        }
        return RankingsTable(epochID: header.id, computedAt: header.computed_at, rows: rows)
    }
}
