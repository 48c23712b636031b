import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// `POST /v1/route`: which endpoints, in which order, for one request under OpenRouter-style
/// provider preferences. Decode, plan (pure `RoutePlanner`), encode.
public struct RouteController<Context: RequestContext>: Sendable {
    let holder: EpochHolder
    let live: LiveSettings
    /// Figures over the rolling window the preferred cut-offs are judged on; nil: the epoch's p50.
    let figures: (any EndpointFiguresSource)?
    let encoder = RouteAnswerEncoder()

    public init(holder: EpochHolder, live: LiveSettings, figures: (any EndpointFiguresSource)? = nil) {
        self.holder = holder
        self.live = live
        self.figures = figures
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        routes.post("route") { request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            guard let json = body.readableBytesView.withUnsafeBytes({ JSONValue.scan($0) }) else {
                return JSONResponse.error(
                    .badRequest, code: "invalid_json",
                    "the body is not JSON; send {\"model\": ..., \"provider\": {...}, \"parameters\": [...]}")
            }
            let parsed = RouteRequestParser.parse(json)
            // Only a request with cut-offs awaits anything: the others are answered without suspending.
            return needsFigures(parsed) ? await answer(parsed) : answer(parsed, figures: nil)
        }
        return routes
    }

    /// The answer; a request with preferred cut-offs first reads the window figures they are
    /// judged on (the others never wait on the windows, nor suspend).
    func answer(_ parsed: Result<RouteRequest, RouteRequestParser.FieldErrors>) async -> Response {
        guard needsFigures(parsed), case .success(let request) = parsed, let figures,
            let ranking = holder.epoch.flatMap({ $0.ranking(for: request.model) ?? $0.ranking(for: request.requestedModel) })
        else { return answer(parsed, figures: nil) }
        let window = figures.preferenceWindowSeconds
        let read = try? await figures.figures(for: ranking.endpoints.map(\.endpointID), onlyWindowSeconds: window)
        return answer(parsed, figures: read?.compactMapValues { $0.windows[window] })
    }

    func needsFigures(_ parsed: Result<RouteRequest, RouteRequestParser.FieldErrors>) -> Bool {
        guard figures != nil, case .success(let request) = parsed else { return false }
        return request.preferences.hasCutoffs
    }

    func answer(_ parsed: Result<RouteRequest, RouteRequestParser.FieldErrors>, figures recent: [String: WindowFigures]?) -> Response {
        var request: RouteRequest
        switch parsed {
        case .failure(let problems):
            return JSONResponse.invalid(problems)
        case .success(let value):
            request = value
        }
        // Neither seed nor request id: a fresh seed per request (a constant one would send every
        // such request to the same endpoint), named in the answer so it can be reproduced.
        if request.seedSource == .server { request.seed = UInt64.random(in: 0...RouteRequest.maxSeed) }
        guard let epoch = holder.epoch else { return RankingsController<Context>.notReady }
        // A registry model whose slug itself ends in `:nitro` (say) is that model, not a variant.
        if request.variant != nil, epoch.ranking(for: request.requestedModel) != nil {
            (request.model, request.variant) = (request.requestedModel, nil)
        }
        guard let ranking = epoch.ranking(for: request.model) else {
            if let (base, suffix) = ModelVariant.suffixed(request.model), epoch.ranking(for: base) != nil {
                return JSONResponse.invalid(
                    RouteRequestParser.FieldErrors(errors: [
                        RouteRequestParser.FieldError(
                            field: "model",
                            message:
                                "\":\(suffix)\" is not a model variant rankd serves; known: \(ModelVariant.allCases.map { ":" + $0.rawValue }.joined(separator: ", ")) (or the model without a suffix)"
                        )
                    ]))
            }
            return JSONResponse.error(.notFound, code: "unknown_model", "no model \"\(request.model)\" in epoch \(epoch.id)")
        }
        switch RoutePlanner.route(request, ranking: ranking, epochID: epoch.id, registry: live.registry, figures: recent) {
        case .success(let answer):
            guard let body = try? encoder.encode(answer, ranking: ranking, seed: request.seed, seedSource: request.seedSource) else {
                return JSONResponse.encode(RouteJSON.Answer(answer, seed: request.seed, seedSource: request.seedSource))
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
        case .failure(let none):
            return JSONResponse.encode(
                RouteJSON.NoneEligible(
                    error: .init(
                        code: "no_eligible_endpoint",
                        message: "no endpoint of \(none.model) satisfies the preferences; see excluded for why"),
                    excluded: none.excluded.map(RouteJSON.Excluded.init)),
                status: .notFound)
        }
    }
}

/// JSON shapes of routing answers (DESIGN.md: `{"epoch_id", "mode", "endpoints", "excluded"}`).
enum RouteJSON {
    struct Answer: Encodable {
        var epochID: Int64
        var mode: String
        var endpoints: [Routed]
        var excluded: [Excluded]
        /// The seed of this answer's draw (quality and price-weighted modes): sent back as `seed`,
        /// it gives the same order again from the same epoch.
        var seed: UInt64
        var seedSource: String
        var notes: [String]

        init(_ answer: RouteAnswer, seed: UInt64, seedSource: RouteRequest.SeedSource) {
            notes = answer.notes
            epochID = answer.epochID
            mode = answer.mode.rawValue
            self.seed = seed
            self.seedSource = seedSource.rawValue
            endpoints = answer.endpoints.map { Routed(entry: EpochJSON.Entry(entry: $0.entry), belowPreference: $0.belowPreference) }
            excluded = answer.excluded.map(Excluded.init)
        }

        enum CodingKeys: String, CodingKey {
            case mode, endpoints, excluded, seed, notes
            case epochID = "epoch_id"
            case seedSource = "seed_source"
        }
    }

    /// An entry of the rankings shape plus `below_preference`.
    struct Routed: Encodable {
        var entry: EpochJSON.Entry
        var belowPreference: Bool

        func encode(to encoder: any Encoder) throws {
            try entry.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(belowPreference, forKey: .belowPreference)
        }

        enum Key: String, CodingKey {
            case belowPreference = "below_preference"
        }
    }

    struct Excluded: Encodable {
        var endpointID: String
        var provider: String
        var reason: String

        init(_ exclusion: Exclusion) {
            endpointID = exclusion.endpointID
            provider = exclusion.provider
            reason = exclusion.reason
        }

        enum CodingKeys: String, CodingKey {
            case provider, reason
            case endpointID = "endpoint_id"
        }
    }

    struct Detail: Encodable {
        var code: String
        var message: String
    }

    struct NoneEligible: Encodable {
        var error: Detail
        var excluded: [Excluded]
    }
}
