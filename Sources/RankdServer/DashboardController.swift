import Foundation
import HTTPTypes
import Hummingbird
import RankdCore
import Synchronization

/// `GET /`: the dashboard (`DashboardPage`). History for the charts is read once and then only the
/// epochs published since, so a refresh costs one small query.
public struct DashboardController<Context: RequestContext>: Sendable {
    let holder: EpochHolder
    let history: HistorySource?
    let overrides: OverrideSource?
    let clock: any WallClock
    let recent = RecentEpochs()

    public init(holder: EpochHolder, history: HistorySource?, overrides: OverrideSource?, clock: any WallClock) {
        self.holder = holder
        self.history = history
        self.overrides = overrides
        self.clock = clock
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("/") { _, _ in
            let now = clock.now()
            let epochs = try await recent.update(from: history, now: now)
            let active = try await overrides?.list(false) ?? []
            let page = DashboardPage.render(epoch: holder.epoch, history: epochs, overrides: active, now: now)
            return Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
        return routes
    }
}

/// The last 24 hours of epochs, kept in memory and extended with what was published since the
/// previous read.
final class RecentEpochs: Sendable {
    private let epochs = Mutex<[Epoch]>([])

    func update(from source: HistorySource?, now: Timestamp) async throws -> [Epoch] {
        guard let source else { return [] }
        let start = now.adding(seconds: -DashboardPage.historySeconds)
        let known = epochs.withLock { $0.last }
        let newer = try await source.epochs(known?.computedAt ?? start, nil, 2_000).filter { $0.id > (known?.id ?? 0) }
        return epochs.withLock { cached in
            // Two refreshes may race: append only what is still newer than the cache.
            let last = cached.last?.id ?? 0
            cached.append(contentsOf: newer.filter { $0.id > last })
            cached.removeAll { $0.computedAt < start }
            return cached
        }
    }
}
