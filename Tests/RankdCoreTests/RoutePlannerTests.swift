import RankdCore
import RankdTestKit
import Testing

/// Provider preferences over one model's ranking, case by case.
@Suite struct RoutePlannerTests {
    /// Five endpoints in rank order: a (ok), b (ok), c (ok), d (insufficient data), e (demoted, cheapest).
    static let fleet:
        [(
            provider: String, status: EndpointStatus, prompt: Double, completion: Double, tps: Double, ttft: Double, quantization: String,
            zdr: Bool, collection: DataCollection, regions: [String], parameters: [String]
        )] = [
            ("a", .ok, 0.9, 0.9, 60, 300, "fp8", false, .deny, ["us"], ["tools", "tool_choice", "response_format"]),
            ("b", .ok, 0.5, 0.5, 150, 900, "bf16", true, .deny, ["eu-west-1"], ["tools", "tool_choice"]),
            ("c", .ok, 1.5, 1.5, 90, 200, "int4", false, .allow, ["us"], ["tools", "tool_choice", "response_format"]),
            ("d", .insufficientData, 0.7, 0.7, 0, 0, "fp8", true, .deny, ["eu"], ["tools"]),
            ("e", .demoted, 0.1, 0.1, 200, 100, "fp8", true, .deny, ["us"], ["tools", "tool_choice", "response_format"]),
        ]

    static let registry = EndpointDirectory(
        fleet.map { spec in
            var endpoint = Build.endpoint(spec.provider, promptPrice: spec.prompt, completionPrice: spec.completion)
            endpoint.quantization = spec.quantization
            endpoint.zeroDataRetention = spec.zdr
            endpoint.dataCollection = spec.collection
            endpoint.regions = spec.regions
            endpoint.supportedParameters = spec.parameters
            return endpoint
        })

    static let ranking = ModelRanking(
        model: Build.model,
        endpoints: fleet.enumerated().map { index, spec in
            EndpointRanking(
                rank: index + 1, endpointID: "\(spec.provider):\(Build.model)", provider: spec.provider, baseURL: "http://x",
                upstreamModel: Build.model,
                score: 1 - Double(index) / 10, status: spec.status, components: [:], samples: Samples(probe: 0, live: 0), reasons: [],
                demotedUntil: nil,
                explanation: Explanation(
                    weights: [:], missingComponents: [], shortWindow: [:], longWindow: [:],
                    stats: EndpointStats(
                        ttftP50Milliseconds: spec.ttft > 0 ? spec.ttft : nil, outputTokensPerSecondP50: spec.tps > 0 ? spec.tps : nil)))
        })

    func route(_ json: String) -> Result<RouteAnswer, NoEligibleEndpoint> {
        let request = try! RouteRequestParser.parse(JSONValue.parse(json)!).get()
        return RoutePlanner.route(request, ranking: Self.ranking, epochID: 7, registry: Self.registry)
    }

    func order(_ json: String) -> [String] {
        (try? route(json).get().endpoints.map(\.entry.provider)) ?? []
    }

    func excluded(_ json: String) -> [String: String] {
        let answer = try? route(json).get()
        return Dictionary(uniqueKeysWithValues: (answer?.excluded ?? []).map { ($0.provider, $0.reason) })
    }

    static let m = #""model": "meta-llama/llama-3.3-70b-instruct""#

    /// Without the rolling window's figures (a server that keeps none, or a read that failed),
    /// p50 cut-offs fall back to the epoch's p50 and other percentiles are not applied: the
    /// answer says so rather than ordering on nothing.
    @Test func cutoffsWithoutWindowFiguresUseTheEpochsP50AndSaySo() throws {
        let answer = try route(#"{\#(Self.m), "provider": {"sort": "price", "preferred_max_latency": {"p50": 0.5, "p99": 0.1}}}"#).get()
        // b (900 ms p50) misses the p50 cut-off, d has no figure; p99 0.1 s, which every endpoint
        // would miss, is not applied.
        #expect(Set(answer.endpoints.filter(\.belowPreference).map(\.entry.provider)) == ["b", "d"])
        #expect(answer.notes.count == 1)
        #expect(answer.notes.first?.contains("p75, p90 and p99 cut-offs not applied") == true, "\(answer.notes)")
        // With figures, each given percentile decides: a window where only c holds both.
        let request = try RouteRequestParser.parse(
            JSONValue.parse(#"{\#(Self.m), "provider": {"preferred_max_latency": {"p50": 0.5, "p99": 1}}}"#)!
        ).get()
        var tallies = [String: SourceTallies]()
        for (provider, ttft) in [("a", 300.0), ("b", 400), ("c", 200)] {
            var tally = Tally()
            for index in 0..<100 {
                let slowTail = provider != "c" && index >= 95
                tally.record(
                    Observation(
                        endpointID: "\(provider):\(Build.model)", time: Timestamp(secondsSince1970: 0), source: .live, outcome: .ok,
                        ttftMilliseconds: slowTail ? 2_000 : ttft))
            }
            tallies["\(provider):\(Build.model)"] = SourceTallies(live: tally)
        }
        let figures = tallies.mapValues(WindowFigures.init)
        let judged = try RoutePlanner.route(request, ranking: Self.ranking, epochID: 7, registry: Self.registry, figures: figures).get()
        // a and b miss p99 (a 2 s tail), d and e have no figures in the window: moved back, not out.
        #expect(Set(judged.endpoints.filter(\.belowPreference).map(\.entry.provider)) == ["a", "b", "d", "e"])
        #expect(judged.endpoints.count == 5)
        #expect(judged.notes.isEmpty)
    }

    @Test(arguments: [
        // Tools: the quality order, demoted last.
        (#"{\#(m), "parameters": ["tools"]}"#, ["a", "b", "c", "d", "e"], RouteMode.quality),
        // Explicit order, fallbacks on: listed first, as given (demoted included), then the rest by rank.
        (#"{\#(m), "parameters": ["tools"], "provider": {"order": ["e", "c"]}}"#, ["e", "c", "a", "b", "d"], .explicitOrder),
        // Explicit order without fallbacks: only the listed ones.
        (#"{\#(m), "parameters": ["tools"], "provider": {"order": ["c", "a"], "allow_fallbacks": false}}"#, ["c", "a"], .explicitOrder),
        // sort: price with the cheapest endpoint demoted: it stays last.
        (#"{\#(m), "parameters": ["tools"], "provider": {"sort": "price"}}"#, ["b", "d", "a", "c", "e"], .sortPrice),
        (#"{\#(m), "parameters": ["tools"], "provider": {"sort": {"by": "throughput"}}}"#, ["b", "c", "a", "d", "e"], .sortThroughput),
        (#"{\#(m), "parameters": ["tools"], "provider": {"sort": "latency"}}"#, ["c", "a", "b", "d", "e"], .sortLatency),
        // Preferred throughput: misses move back, demoted still last.
        (#"{\#(m), "parameters": ["tools"], "provider": {"preferred_min_throughput": 80}}"#, ["b", "c", "a", "d", "e"], .quality),
        (#"{\#(m), "parameters": ["tools"], "provider": {"preferred_max_latency": 0.5}}"#, ["a", "c", "b", "d", "e"], .quality),
    ])
    func ordering(json: String, expected: [String], mode: RouteMode) throws {
        let answer = try route(json).get()
        #expect(answer.endpoints.map(\.entry.provider) == expected)
        #expect(answer.mode == mode)
        #expect(answer.epochID == 7)
    }

    @Test(arguments: [
        (#"{\#(m), "provider": {"only": ["a", "b"]}}"#, ["c": "only", "d": "only", "e": "only"]),
        (#"{\#(m), "provider": {"ignore": ["b"]}}"#, ["b": "ignore"]),
        (#"{\#(m), "provider": {"only": ["b", "c"], "ignore": ["b"]}}"#, ["a": "only", "b": "ignore", "d": "only", "e": "only"]),
        (#"{\#(m), "provider": {"only": ["c:meta-llama/llama-3.3-70b-instruct"]}}"#, ["a": "only", "b": "only", "d": "only", "e": "only"]),
        (
            #"{\#(m), "parameters": ["tools", "response_format"]}"#,
            ["b": "unsupported_parameter:response_format", "d": "unsupported_parameter:response_format"]
        ),
        (
            #"{\#(m), "parameters": ["tools", "tool_choice"], "provider": {"require_parameters": true}}"#,
            ["d": "require_parameters:tool_choice"]
        ),
        (#"{\#(m), "parameters": ["tools", "tool_choice"]}"#, [:]),
        (#"{\#(m), "provider": {"data_collection": "deny"}}"#, ["c": "data_collection"]),
        (#"{\#(m), "provider": {"zdr": true}}"#, ["a": "zdr", "c": "zdr"]),
        (#"{\#(m), "provider": {"quantizations": ["fp8", "BF16"]}}"#, ["c": "quantizations"]),
        (#"{\#(m), "provider": {"region": "eu"}}"#, ["a": "region", "c": "region", "e": "region"]),
        (#"{\#(m), "provider": {"max_price": {"prompt": 0.8}}}"#, ["a": "max_price.prompt", "c": "max_price.prompt"]),
        (
            #"{\#(m), "provider": {"order": ["a"], "allow_fallbacks": false}}"#,
            ["b": "allow_fallbacks", "c": "allow_fallbacks", "d": "allow_fallbacks", "e": "allow_fallbacks"]
        ),
    ])
    func filters(json: String, expected: [String: String]) {
        #expect(excluded(json) == expected)
        let kept = Set(order(json))
        #expect(kept == Set(["a", "b", "c", "d", "e"]).subtracting(expected.keys))
    }

    @Test func excludingEverythingSaysWhy() {
        guard case .failure(let none) = route(#"{\#(Self.m), "provider": {"max_price": {"prompt": 0.01}}}"#) else {
            Issue.record("expected no eligible endpoint")
            return
        }
        #expect(none.excluded.count == 5)
        #expect(Set(none.excluded.map(\.reason)) == ["max_price.prompt"])
    }

    @Test func withoutToolsTheOrderIsPriceWeightedReproducibleAndDemotedLast() throws {
        var firsts: [String: Int] = [:]
        for seed in 0..<2_000 {
            let answer = try route(#"{\#(Self.m), "seed": \#(seed)}"#).get()
            #expect(answer.mode == .priceWeighted)
            #expect(answer.endpoints.last?.entry.provider == "e", "demoted last even though cheapest")
            firsts[answer.endpoints[0].entry.provider, default: 0] += 1
        }
        // Weights 1/price²: b (1.0) 1, d (1.4) 0.51, a (1.8) 0.31, c (3.0) 0.11.
        let share = Double(firsts["b"] ?? 0) / 2_000
        #expect(abs(share - 1 / (1 + 0.5102 + 0.3086 + 0.1111)) < 0.04, "b first in \(share)")
        #expect((firsts["b"] ?? 0) > (firsts["c"] ?? 0) * 5)
        #expect(order(#"{\#(Self.m), "request_id": "req-1"}"#) == order(#"{\#(Self.m), "request_id": "req-1"}"#))
    }

    /// The fleet with traffic shares (a 0.6, b 0.25, c 0.1, d 0.05, e demoted 0), as an epoch has them.
    static let sharedRanking: ModelRanking = {
        var ranking = Self.ranking
        for (index, share) in [0.6, 0.25, 0.1, 0.05, 0].enumerated() {
            ranking.endpoints[index].explanation.share = ShareExplanation(
                share: share, basis: share > 0 ? ShareBasis.topQualityTier : ShareBasis.demoted, routingScore: 0, quality: nil,
                qualityMargin: nil, floor: share > 0 ? 0.02 : 0)
        }
        return ranking
    }()

    /// With tools and no sort or order, each request draws its order from the shares: the first
    /// endpoint is each one with its share's probability, the demoted one is always last, and the
    /// same seed (or request id) gives the same order.
    @Test func qualityModeDrawsTheFirstEndpointByShare() throws {
        var firsts: [String: Int] = [:]
        let draws = 4_000
        for seed in 0..<draws {
            let request = try RouteRequestParser.parse(JSONValue.parse(#"{\#(Self.m), "parameters": ["tools"], "seed": \#(seed)}"#)!).get()
            let answer = try RoutePlanner.route(request, ranking: Self.sharedRanking, epochID: 7, registry: Self.registry).get()
            #expect(answer.mode == .quality)
            #expect(answer.endpoints.count == 5 && answer.endpoints.last?.entry.provider == "e")
            firsts[answer.endpoints[0].entry.provider, default: 0] += 1
        }
        for (provider, share) in [("a", 0.6), ("b", 0.25), ("c", 0.1), ("d", 0.05)] {
            let seen = Double(firsts[provider] ?? 0) / Double(draws)
            // Binomial standard deviation at 4,000 draws is at most 0.008: 0.03 is about 4 of them.
            #expect(abs(seen - share) < 0.03, "\(provider) first in \(seen), share \(share)")
        }
        let body = #"{\#(Self.m), "parameters": ["tools"], "request_id": "req-42"}"#
        let one = try RoutePlanner.route(
            RouteRequestParser.parse(JSONValue.parse(body)!).get(), ranking: Self.sharedRanking, epochID: 7, registry: Self.registry
        ).get()
        let two = try RoutePlanner.route(
            RouteRequestParser.parse(JSONValue.parse(body)!).get(), ranking: Self.sharedRanking, epochID: 7, registry: Self.registry
        ).get()
        #expect(one.endpoints.map(\.entry.provider) == two.endpoints.map(\.entry.provider))
    }

    /// A request id stands for FNV-1a 64 of its UTF-8 bytes masked to 53 bits, as docs/api.md says
    /// (so a reader in another language reproduces it); a seed past 2^53 - 1 is refused.
    @Test func requestIDSeedIsDocumentedFNV1aAndSeedsFitJSONNumbers() throws {
        let request = try RouteRequestParser.parse(JSONValue.parse(#"{\#(Self.m), "request_id": "req-42"}"#)!).get()
        #expect(request.seedSource == .requestID)
        #expect(request.seed == 2_734_951_968_397_640, "computed in Python as docs/api.md shows")
        #expect(RouteRequest.seed(requestID: "") == 0xcbf2_9ce4_8422_2325 & RouteRequest.maxSeed)
        let none = try RouteRequestParser.parse(JSONValue.parse(#"{\#(Self.m)}"#)!).get()
        #expect(none.seedSource == .server)
        let given = try RouteRequestParser.parse(JSONValue.parse(#"{\#(Self.m), "seed": 9007199254740991, "request_id": "x"}"#)!).get()
        #expect(given.seed == RouteRequest.maxSeed && given.seedSource == .seed)
        #expect((try? RouteRequestParser.parse(JSONValue.parse(#"{\#(Self.m), "seed": 9007199254740992}"#)!).get()) == nil)
    }

    @Test(arguments: [
        (#"{"model": 3}"#, "model"),
        (#"{\#(m), "provider": {"sort": "cheapest"}}"#, "provider.sort"),
        (#"{\#(m), "provider": {"only": "a"}}"#, "provider.only"),
        (#"{\#(m), "provider": {"allow_fallbacks": "no"}}"#, "provider.allow_fallbacks"),
        (#"{\#(m), "provider": {"order": ["a"], "fallbacks": true}}"#, "provider.fallbacks"),
        (#"{\#(m), "provider": {"max_price": {"prompt": -1}}}"#, "provider.max_price.prompt"),
        (#"{\#(m), "provider": {"max_price": {"audio": 1}}}"#, "provider.max_price.audio"),
        (#"{\#(m), "provider": {"preferred_max_latency": {"p50": 2, "p95": 4}}}"#, "provider.preferred_max_latency.p95"),
        (#"{\#(m), "provider": {"preferred_min_throughput": {"p90": "fast"}}}"#, "provider.preferred_min_throughput.p90"),
        (#"{\#(m), "provider": {"quantizations": ["fp7"]}}"#, "provider.quantizations[0]"),
        (#"{\#(m), "provider": {"data_collection": "sometimes"}}"#, "provider.data_collection"),
        (#"{\#(m), "tools": []}"#, "tools"),
        (#"{\#(m), "seed": -4}"#, "seed"),
    ])
    func badRequestsNameTheField(json: String, field: String) {
        guard case .failure(let errors) = RouteRequestParser.parse(JSONValue.parse(json)!) else {
            Issue.record("\(json) was accepted")
            return
        }
        #expect(errors.errors.map(\.field).contains(field), "\(errors.errors)")
    }
}
