import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// `/healthz` (the process answers), `/readyz` (an epoch is being served and the data directory
/// takes writes), `/metrics` (Prometheus).
public struct HealthController<Context: RequestContext>: Sendable {
    let holder: EpochHolder
    let metrics: RankdMetrics

    public init(holder: EpochHolder, metrics: RankdMetrics) {
        self.holder = holder
        self.metrics = metrics
    }

    struct Readiness: Encodable {
        var ready: Bool
        var epochID: Int64?
        var computedAt: String?
        /// Failing writes by kind, with the last error, while the data directory takes none.
        var storageErrors: [String: String]?

        enum CodingKeys: String, CodingKey {
            case ready
            case epochID = "epoch_id"
            case computedAt = "computed_at"
            case storageErrors = "storage_errors"
        }
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("healthz") { _, _ in JSONResponse.encode(["status": "ok"]) }
        routes.get("readyz") { _, _ in
            guard let epoch = holder.epoch else {
                return JSONResponse.encode(Readiness(ready: false), status: .serviceUnavailable)
            }
            let problems = holder.storage.problems
            guard problems.isEmpty else {
                // Reads are still answered (from memory), but nothing new can be kept: not ready.
                return JSONResponse.encode(
                    Readiness(ready: false, epochID: epoch.id, computedAt: RFC3339.format(epoch.computedAt), storageErrors: problems),
                    status: .serviceUnavailable)
            }
            return JSONResponse.encode(Readiness(ready: true, epochID: epoch.id, computedAt: RFC3339.format(epoch.computedAt)))
        }
        routes.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        return routes
    }
}
