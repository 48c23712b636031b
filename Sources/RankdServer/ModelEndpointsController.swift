import Foundation
import Hummingbird
import RankdCore

/// `GET /v1/models/{model}/endpoints`: each endpoint of a model with the statistics OpenRouter
/// publishes for its endpoints (its names and shape: uptime over 5 minutes, 30 minutes and a day,
/// TTFT and throughput percentiles over 30 minutes), plus what it does not publish (tool-call
/// error rate, the tier, the rank). Figures are of probes and live requests together, read from
/// the windows as of the request (docs/api.md).
public struct ModelEndpointsController<Context: RequestContext>: Sendable {
    let holder: EpochHolder
    let live: LiveSettings
    let figures: (any EndpointFiguresSource)?

    public init(holder: EpochHolder, live: LiveSettings, figures: (any EndpointFiguresSource)?) {
        self.holder = holder
        self.live = live
        self.figures = figures
    }

    public var endpoints: RouteCollection<Context> {
        let routes = RouteCollection(context: Context.self)
        // Slugs are `author/name`; any other slug is one percent-encoded segment.
        // (The router wants one name for a segment both routes share: the author is `model` here.)
        routes.get("models/:model/:name/endpoints") { _, context in
            await self.listing(slug: "\(context.parameters.get("model") ?? "")/\(context.parameters.get("name") ?? "")")
        }
        routes.get("models/:model/endpoints") { _, context in await self.listing(slug: context.parameters.get("model") ?? "") }
        return routes
    }

    func listing(slug encoded: String) async -> Response {
        guard let epoch = holder.epoch else { return RankingsController<Context>.notReady }
        let slug = encoded.removingPercentEncoding ?? encoded
        guard let ranking = epoch.ranking(for: slug) else {
            return JSONResponse.error(.notFound, code: "unknown_model", "no model \"\(slug)\" in epoch \(epoch.id)")
        }
        guard let figures else {
            return JSONResponse.error(.serviceUnavailable, code: "no_windows", "this server keeps no rolling windows to list figures from")
        }
        let read: [String: EndpointFigures]
        do {
            read = try await figures.figures(for: ranking.endpoints.map(\.endpointID), onlyWindowSeconds: nil)
        } catch {
            return JSONResponse.error(
                .serviceUnavailable, code: "windows_unavailable", "the windows could not be brought up to date: \(error); retry shortly")
        }
        let directory = live.registry
        let listed = ranking.endpoints.map { entry in
            EndpointsJSON.Endpoint(
                entry: entry, endpoint: directory[entry.endpointID], model: slug, figures: read[entry.endpointID],
                longWindowSeconds: figures.longWindowSeconds)
        }
        return JSONResponse.encode(EndpointsJSON.Listing(data: .init(id: slug, name: slug, epochID: epoch.id, endpoints: listed)))
    }
}

/// The listing's JSON, in OpenRouter's names where it has them.
enum EndpointsJSON {
    struct Listing: Encodable {
        var data: Model
    }

    struct Model: Encodable {
        var id: String
        var name: String
        var epochID: Int64
        var endpoints: [Endpoint]

        enum CodingKeys: String, CodingKey {
            case id, name, endpoints
            case epochID = "epoch_id"
        }
    }

    /// OpenRouter's price fields: USD per token (per request, per image) as decimal strings.
    struct Prices: Encodable {
        var prompt: String
        var completion: String
        var request: String
        var image: String

        init(_ pricing: Pricing) {
            prompt = Self.decimal(pricing.promptPerMillionTokensUSD / 1_000_000)
            completion = Self.decimal(pricing.completionPerMillionTokensUSD / 1_000_000)
            request = Self.decimal(pricing.perRequestUSD)
            image = Self.decimal(pricing.perImageUSD ?? 0)
        }

        /// Plain decimal notation (no exponent), trailing zeros trimmed: "0.000003", "0".
        static func decimal(_ value: Double) -> String {
            var text = String(format: "%.12f", value)
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            return text == "-0" ? "0" : text
        }
    }

    struct PercentileJSON: Encodable {
        var p50: Double
        var p75: Double
        var p90: Double
        var p99: Double

        init?(_ percentiles: Percentiles?) {
            guard let percentiles else { return nil }
            (p50, p75, p90, p99) = (percentiles.p50, percentiles.p75, percentiles.p90, percentiles.p99)
        }
    }

    struct Endpoint: Encodable {
        var name: String
        var modelName: String
        var modelID: String
        var providerName: String
        var tag: String
        var quantization: String
        var contextLength: Int?
        var maxCompletionTokens: Int?
        var maxPromptTokens: Int?
        var pricing: Prices?
        var supportedParameters: [String]
        var status: Int
        var uptimeLast5m: Double?
        var uptimeLast30m: Double?
        var uptimeLast1d: Double?
        var latencyLast30m: PercentileJSON?
        var throughputLast30m: PercentileJSON?
        var supportsImplicitCaching = false
        // rankd's own.
        var endpointID: String
        var rank: Int
        var rankdStatus: String
        var tier: String?
        var trafficShare: Double
        var toolCallErrorRateLast30m: Double?
        var requestsLast5m: Int64
        var requestsLast30m: Int64
        var requestsLast1d: Int64

        init(entry: EndpointRanking, endpoint: RankdCore.Endpoint?, model: String, figures: EndpointFigures?, longWindowSeconds: Int) {
            let last5m = figures?.windows[300]
            let last30m = figures?.windows[1_800]
            let last1d = figures?.windows[longWindowSeconds]
            name = "\(entry.provider): \(model)"
            modelName = model
            modelID = model
            providerName = entry.provider
            tag = entry.provider
            quantization = endpoint?.quantization ?? "unknown"
            contextLength = endpoint?.contextLength
            pricing = endpoint.map { Prices($0.pricing) }
            supportedParameters = endpoint?.supportedParameters ?? []
            status = Self.openRouterStatus(entry)
            uptimeLast5m = last5m?.uptimePercent
            uptimeLast30m = last30m?.uptimePercent
            uptimeLast1d = last1d?.uptimePercent
            latencyLast30m = PercentileJSON(last30m?.ttftMilliseconds)
            throughputLast30m = PercentileJSON(last30m?.outputTokensPerSecond)
            endpointID = entry.endpointID
            rank = entry.rank
            rankdStatus = entry.status.rawValue
            tier = entry.explanation.share?.basis
            trafficShare = entry.trafficShare
            toolCallErrorRateLast30m = last30m?.toolCallErrorRate
            requestsLast5m = last5m?.requests ?? 0
            requestsLast30m = last30m?.requests ?? 0
            requestsLast1d = last1d?.requests ?? 0
        }

        /// OpenRouter's status integer (0 serves normally; lower, less): 0 for ok and
        /// insufficient data, -1 with the share lowered (slow or rate limited), -5 demoted,
        /// -10 disabled.
        static func openRouterStatus(_ entry: EndpointRanking) -> Int {
            switch entry.status {
            case .disabled: return -10
            case .demoted: return -5
            case .ok, .insufficientData:
                let basis = entry.explanation.share?.basis
                return basis == ShareBasis.latencyDegraded || basis == ShareBasis.rateLimited ? -1 : 0
            }
        }

        enum CodingKeys: String, CodingKey {
            case name, tag, quantization, pricing, status, rank, tier
            case modelName = "model_name"
            case modelID = "model_id"
            case providerName = "provider_name"
            case contextLength = "context_length"
            case maxCompletionTokens = "max_completion_tokens"
            case maxPromptTokens = "max_prompt_tokens"
            case supportedParameters = "supported_parameters"
            case uptimeLast5m = "uptime_last_5m"
            case uptimeLast30m = "uptime_last_30m"
            case uptimeLast1d = "uptime_last_1d"
            case latencyLast30m = "latency_last_30m"
            case throughputLast30m = "throughput_last_30m"
            case supportsImplicitCaching = "supports_implicit_caching"
            case endpointID = "endpoint_id"
            case rankdStatus = "rankd_status"
            case trafficShare = "traffic_share"
            case toolCallErrorRateLast30m = "tool_call_error_rate_last_30m"
            case requestsLast5m = "requests_last_5m"
            case requestsLast30m = "requests_last_30m"
            case requestsLast1d = "requests_last_1d"
        }

        /// Nulls written out, as OpenRouter does: a client reads the same keys every time.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(modelName, forKey: .modelName)
            try c.encode(modelID, forKey: .modelID)
            try c.encode(providerName, forKey: .providerName)
            try c.encode(tag, forKey: .tag)
            try c.encode(quantization, forKey: .quantization)
            try c.encode(contextLength, forKey: .contextLength)
            try c.encode(maxCompletionTokens, forKey: .maxCompletionTokens)
            try c.encode(maxPromptTokens, forKey: .maxPromptTokens)
            try c.encode(pricing, forKey: .pricing)
            try c.encode(supportedParameters, forKey: .supportedParameters)
            try c.encode(status, forKey: .status)
            try c.encode(uptimeLast5m, forKey: .uptimeLast5m)
            try c.encode(uptimeLast30m, forKey: .uptimeLast30m)
            try c.encode(uptimeLast1d, forKey: .uptimeLast1d)
            try c.encode(latencyLast30m, forKey: .latencyLast30m)
            try c.encode(throughputLast30m, forKey: .throughputLast30m)
            try c.encode(supportsImplicitCaching, forKey: .supportsImplicitCaching)
            try c.encode(endpointID, forKey: .endpointID)
            try c.encode(rank, forKey: .rank)
            try c.encode(rankdStatus, forKey: .rankdStatus)
            try c.encode(tier, forKey: .tier)
            try c.encode(trafficShare, forKey: .trafficShare)
            try c.encode(toolCallErrorRateLast30m, forKey: .toolCallErrorRateLast30m)
            try c.encode(requestsLast5m, forKey: .requestsLast5m)
            try c.encode(requestsLast30m, forKey: .requestsLast30m)
            try c.encode(requestsLast1d, forKey: .requestsLast1d)
        }
    }
}
