import Foundation
import HTTPTypes
import Hummingbird
import RankdCore
import RankdPlatform

/// `GET /v1/rankings` and `GET /v1/rankings/{model}`: the current epoch from memory, with an ETag
/// per epoch so pollers get `304 Not Modified` until it changes.
public struct RankingsController<Context: RequestContext>: Sendable {
    let holder: EpochHolder
    /// `Cache-Control: max-age=N`; short, since the fast path can publish at any time.
    let cacheControl: String
    /// Answers `GET /v1/rankings/{model}?only=...` (preferences as query parameters).
    let route: RouteController<Context>

    public init(holder: EpochHolder, live: LiveSettings, maxAgeSeconds: Int = 5, figures: (any EndpointFiguresSource)? = nil) {
        self.holder = holder
        cacheControl = "max-age=\(maxAgeSeconds)"
        route = RouteController(holder: holder, live: live, figures: figures)
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.get("rankings") { request, _ in self.all(request) }
        // Slugs contain '/': accept both `/v1/rankings/author/name` and one percent-encoded segment.
        routes.get("rankings/**") { request, context in await self.model(request, segments: context.parameters.getCatchAll()) }
        return routes
    }

    func all(_ request: Request) -> Response {
        guard let published = holder.published else { return Self.notReady }
        if DeflatedBody.acceptsGzip(request.headers[.acceptEncoding]) {
            return cached(request, published: published, gzip: true, body: ResponseBody(contentsOf: published.bodies.allGzipParts))
        }
        // Inflated as it is sent, a quarter of a megabyte at a time: the whole table (megabytes
        // with many endpoints) is never held uncompressed.
        let bodies = published.bodies
        return cached(
            request, published: published, gzip: false,
            body: ResponseBody(contentLength: bodies.allLength) { writer in
                let inflater = try FragmentInflater(bodies.allStream, expectedLength: bodies.allLength)
                while let piece = try inflater.next() { try await writer.write(piece) }
                try await writer.finish(nil)
            })
    }

    func model(_ request: Request, segments: [Substring]) async -> Response {
        guard let published = holder.published else { return Self.notReady }
        let joined = segments.map(String.init).joined(separator: "/")
        let slug = joined.removingPercentEncoding ?? joined
        let query = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        if !query.isEmpty, published.modelBodies[slug] != nil {
            // Preferences given: the routing answer for this model (same parser as POST /v1/route).
            return await route.answer(RouteQuery.body(model: slug, query: query).flatMap(RouteRequestParser.parse))
        }
        // A variant (`author/name:nitro`) of a model the epoch has: the routing answer with it, as
        // `POST /v1/route` gives it; an unknown suffix is refused there, naming it.
        if published.modelBodies[slug] == nil, let base = ModelVariant.suffixed(slug)?.model, published.modelBodies[base] != nil {
            return await route.answer(RouteQuery.body(model: slug, query: query).flatMap(RouteRequestParser.parse))
        }
        guard let body = published.modelBodies[slug] else {
            let known = published.modelBodies.keys.sorted().prefix(20).joined(separator: ", ")
            return JSONResponse.error(
                .notFound, code: "unknown_model", "no model \"\(slug)\" in epoch \(published.epoch.id); known models: \(known)")
        }
        if DeflatedBody.acceptsGzip(request.headers[.acceptEncoding]) {
            return cached(request, published: published, gzip: true, body: ResponseBody(contentsOf: body.gzipParts))
        }
        do {
            let parts = try body.parts()
            return cached(request, published: published, gzip: false, body: ResponseBody(contentsOf: parts))
        } catch {
            return JSONResponse.error(.internalServerError, code: "body_unreadable", "the held body of \"\(slug)\" could not be inflated: \(error)")
        }
    }

    private func cached(_ request: Request, published: EpochHolder.Published, gzip: Bool, body: @autoclosure () -> ResponseBody) -> Response {
        var headers: HTTPFields = [:]
        headers[.eTag] = gzip ? published.gzipETag : published.etag
        headers[.cacheControl] = cacheControl
        headers[.vary] = "Accept-Encoding"
        if published.matches(ifNoneMatch: request.headers[.ifNoneMatch]) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/json; charset=utf-8"
        if gzip { headers[.contentEncoding] = "gzip" }
        return Response(status: .ok, headers: headers, body: body())
    }

    static var notReady: Response {
        JSONResponse.error(
            .serviceUnavailable, code: "no_epoch_yet", "no epoch has been computed yet; retry in a few seconds (see /readyz)")
    }
}
