import CoreMetrics
import Foundation
import HTTPTypes
import Metrics
import NIOCore
import NIOHTTPTypes
import RankdCore

/// The hot read, answered in the channel pipeline: `GET /v1/rankings` and
/// `GET /v1/rankings/{model}` without query parameters are served from the pre-encoded epoch on
/// the connection's event loop, without entering the router (no task, no thread hop). Everything
/// else, including query-parameter routing and unknown models, goes on to the router unchanged.
/// Same bytes, ETag/304 and Cache-Control as `RankingsController`; counted in the same metrics.
///
/// It sits after HTTP/1 decoding and after the pipelining handler, so requests reach it one at
/// a time: a response written here cannot interleave with one written by the router.
public final class RankingsFastPath: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundOut = HTTPResponsePart

    let holder: EpochHolder
    let metrics: RankdMetrics
    let cacheControl: String
    /// A request without the read token goes on to the router, which refuses it.
    let live: LiveSettings
    /// The parts of a request this handler answered are dropped until its end.
    private var swallowing = false
    /// Response heads of the current epoch by path, built once per connection and epoch.
    private var heads: [String: HTTPResponse] = [:]
    private var headsEpoch = ""
    /// Metric instruments by route and status, looked up once per connection.
    private var instruments: [String: (CoreMetrics.Counter, Metrics.Timer)] = [:]

    public init(holder: EpochHolder, metrics: RankdMetrics, cacheMaxAgeSeconds: Int, live: LiveSettings) {
        self.live = live
        self.holder = holder
        self.metrics = metrics
        cacheControl = "max-age=\(cacheMaxAgeSeconds)"
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let request):
            let started = ContinuousClock.now
            guard let (response, body, route) = answer(request) else {
                context.fireChannelRead(data)
                return
            }
            swallowing = true
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            for part in body { context.write(wrapOutboundOut(.body(part)), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            let key = response.status.code == 200 ? route : route + " 304"
            let (counter, timer) =
                instruments[key]
                ?? {
                    let made = metrics.httpInstruments(route: route, method: "GET", status: response.status.code)
                    instruments[key] = made
                    return made
                }()
            counter.increment()
            timer.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        case .body, .end:
            if swallowing {
                if case .end = part { swallowing = false }
                return
            }
            context.fireChannelRead(data)
        }
    }

    /// The response and its body's parts (none for a 304), or nil when the router should answer.
    ///
    /// A client that accepts gzip gets the held deflated bytes with `Content-Encoding: gzip`;
    /// any other gets them inflated here (a model's body: tens of kilobytes), except the whole
    /// table above `inlineInflateLimit`, which the router streams so this event loop is not held.
    func answer(_ request: HTTPRequest) -> (HTTPResponse, [ByteBuffer], String)? {
        guard request.method == .get, let path = request.path, path.utf8.starts(with: "/v1/rankings".utf8),
            !path.utf8.contains(UInt8(ascii: "?")),
            request.headerFields[.connection]?.lowercased() != "close", let published = holder.published,
            live.access.isOpen || live.access.allows(path: path, headers: request.headerFields)
        else { return nil }
        let gzip = DeflatedBody.acceptsGzip(request.headerFields[.acceptEncoding])
        let body: () throws -> [ByteBuffer]
        let route: String
        if path == "/v1/rankings" {
            let bodies = published.bodies
            if gzip {
                body = { bodies.allGzipParts }
            } else {
                guard bodies.allLength <= Self.inlineInflateLimit else { return nil }
                body = { [try bodies.allJoined()] }
            }
            route = "/v1/rankings"
        } else if path.hasPrefix("/v1/rankings/") {
            let raw = path.dropFirst("/v1/rankings/".count)
            let slug = raw.utf8.contains(UInt8(ascii: "%")) ? (raw.removingPercentEncoding ?? String(raw)) : String(raw)
            guard let found = published.modelBodies[slug] else { return nil }
            body = gzip ? { found.gzipParts } : { try found.parts() }
            route = "/v1/rankings/**"
        } else {
            return nil
        }
        if headsEpoch != published.etag {
            heads.removeAll(keepingCapacity: true)
            headsEpoch = published.etag
        }
        let etag = gzip ? published.gzipETag : published.etag
        if published.matches(ifNoneMatch: request.headerFields[.ifNoneMatch]) {
            var response = HTTPResponse(status: .notModified)
            response.headerFields[.eTag] = etag
            response.headerFields[.cacheControl] = cacheControl
            response.headerFields[.vary] = "Accept-Encoding"
            response.headerFields[.server] = "rankd"
            return (response, [], route)
        }
        // A body that cannot be inflated (it never should) is left to the router, which answers 500.
        guard let parts = try? body() else { return nil }
        let key = gzip ? "gzip " + path : path
        if let head = heads[key] { return (head, parts, route) }
        var response = HTTPResponse(status: .ok)
        response.headerFields[.eTag] = etag
        response.headerFields[.cacheControl] = cacheControl
        response.headerFields[.server] = "rankd"
        response.headerFields[.contentType] = "application/json; charset=utf-8"
        response.headerFields[.vary] = "Accept-Encoding"
        if gzip { response.headerFields[.contentEncoding] = "gzip" }
        response.headerFields[.contentLength] = String(parts.reduce(0) { $0 + $1.readableBytes })
        heads[key] = response
        return (response, parts, route)
    }

    /// Largest uncompressed `GET /v1/rankings` body inflated on the event loop (larger ones are
    /// inflated off it, so one read never holds up the others).
    static let inlineInflateLimit = 1 << 20
}
