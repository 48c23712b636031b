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
    /// The parts of a request this handler answered are dropped until its end.
    private var swallowing = false
    /// Response heads of the current epoch by path, built once per connection and epoch.
    private var heads: [String: HTTPResponse] = [:]
    private var headsEpoch = ""
    /// Metric instruments by route and status, looked up once per connection.
    private var instruments: [String: (CoreMetrics.Counter, Metrics.Timer)] = [:]

    public init(holder: EpochHolder, metrics: RankdMetrics, cacheMaxAgeSeconds: Int) {
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
    func answer(_ request: HTTPRequest) -> (HTTPResponse, [ByteBuffer], String)? {
        guard request.method == .get, let path = request.path, path.utf8.starts(with: "/v1/rankings".utf8),
            !path.utf8.contains(UInt8(ascii: "?")),
            request.headerFields[.connection]?.lowercased() != "close", let published = holder.published
        else { return nil }
        let body: [ByteBuffer]
        let route: String
        if path == "/v1/rankings" {
            body = [published.allBody]
            route = "/v1/rankings"
        } else if path.hasPrefix("/v1/rankings/") {
            let raw = path.dropFirst("/v1/rankings/".count)
            let slug = raw.utf8.contains(UInt8(ascii: "%")) ? (raw.removingPercentEncoding ?? String(raw)) : String(raw)
            guard let found = published.modelBodies[slug] else { return nil }
            body = found.parts
            route = "/v1/rankings/**"
        } else {
            return nil
        }
        if headsEpoch != published.etag {
            heads.removeAll(keepingCapacity: true)
            headsEpoch = published.etag
        }
        if let match = request.headerFields[.ifNoneMatch],
            match.split(separator: ",").contains(where: {
                let tag = $0.trimmingCharacters(in: .whitespaces)
                return tag == published.etag || tag == "*"
            })
        {
            var response = HTTPResponse(status: .notModified)
            response.headerFields[.eTag] = published.etag
            response.headerFields[.cacheControl] = cacheControl
            response.headerFields[.server] = "rankd"
            return (response, [], route)
        }
        if let head = heads[path] { return (head, body, route) }
        var response = HTTPResponse(status: .ok)
        response.headerFields[.eTag] = published.etag
        response.headerFields[.cacheControl] = cacheControl
        response.headerFields[.server] = "rankd"
        response.headerFields[.contentType] = "application/json; charset=utf-8"
        response.headerFields[.contentLength] = String(body.reduce(0) { $0 + $1.readableBytes })
        heads[path] = response
        return (response, body, route)
    }
}
