import RankdCore

/// Builders for the registry and for observations, so tests read as data.
public enum Build {
    public static let model = "meta-llama/llama-3.3-70b-instruct"

    /// An endpoint with id `provider:model` and plausible attributes.
    public static func endpoint(
        _ provider: String, model: String = Build.model, enabled: Bool = true, promptPrice: Double = 0.5,
        completionPrice: Double = 0.8
    ) -> Endpoint {
        Endpoint(
            id: "\(provider):\(model)", model: model, provider: provider, baseURL: "http://127.0.0.1:9/\(provider)/v1",
            upstreamModel: model, quantization: "fp8",
            pricing: Pricing(promptPerMillionTokensUSD: promptPrice, completionPerMillionTokensUSD: completionPrice),
            contextLength: 131_072, enabled: enabled)
    }

    /// `count` observations for one endpoint, spread evenly over `spanSeconds` ending at `end`,
    /// every `failEvery`-th one ending in `failure` (none when `failEvery` is 0). Deterministic.
    public static func observations(
        _ endpointID: String, count: Int, end: Timestamp, spanSeconds: Double = 600, source: ObservationSource = .live,
        failEvery: Int = 0, failure: Outcome = .schemaViolation, ttftMilliseconds: Double = 400,
        tokensPerSecond: Double = 80
    ) -> [Observation] {
        (0..<count).map { index in
            let failed = failEvery > 0 && (index + 1) % failEvery == 0
            let time = end.adding(seconds: -spanSeconds + spanSeconds * Double(index + 1) / Double(max(count, 1)))
            let answered = !failed || failure.isToolCallFailure
            return Observation(
                endpointID: endpointID, time: time, source: source, outcome: failed ? failure : .ok, toolsOffered: true,
                ttftMilliseconds: answered ? ttftMilliseconds : nil, latencyMilliseconds: answered ? ttftMilliseconds + 1_000 : nil,
                outputTokensPerSecond: answered ? tokensPerSecond : nil)
        }
    }
}

/// Tests keep their historical name for the core's seeded generator.
public typealias SeededGenerator = SplitMix64
