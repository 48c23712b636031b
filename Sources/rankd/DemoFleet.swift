import RankdCore
import RankdMock

/// The built-in demo: five simulated providers of one model behind a local mock provider; the
/// fastest starts answering a quarter of its tool calls with wrong values (HTTP 200) after
/// `faultAfterSeconds`, and one is slow enough to be a latency outlier.
public enum DemoFleet {
    public static let model = "meta-llama/llama-3.3-70b-instruct"
    public static let faultyProvider = "swiftinfer"
    /// Share of the faulty provider's tool calls that go wrong after the onset.
    public static let faultRate = 0.25

    struct Provider {
        var slug: String
        var ttftMs: Double
        var tokensPerSecond: Double
        var quantization: String
        var promptPrice: Double
        var completionPrice: Double
        var region: String
    }

    static let providers = [
        Provider(
            slug: "swiftinfer", ttftMs: 180, tokensPerSecond: 190, quantization: "fp8", promptPrice: 0.60, completionPrice: 0.80,
            region: "us"),
        Provider(
            slug: "steadycloud", ttftMs: 420, tokensPerSecond: 85, quantization: "bf16", promptPrice: 0.88, completionPrice: 0.88,
            region: "us"),
        Provider(
            slug: "budgetgpu", ttftMs: 650, tokensPerSecond: 55, quantization: "int4", promptPrice: 0.12, completionPrice: 0.30,
            region: "us"),
        Provider(
            slug: "eurohost", ttftMs: 380, tokensPerSecond: 95, quantization: "fp8", promptPrice: 0.70, completionPrice: 0.90, region: "eu"),
        Provider(
            slug: "slowpoke", ttftMs: 2_600, tokensPerSecond: 30, quantization: "fp16", promptPrice: 0.35, completionPrice: 0.40,
            region: "us"),
    ]

    static func profile(_ provider: Provider, faulty: Bool) -> MockProfile {
        var profile = MockProfile()
        profile.ttftMs = provider.ttftMs
        profile.tokensPerSecond = provider.tokensPerSecond
        profile.jitter = 0.15
        if faulty { profile.wrongValue = faultRate }
        return profile
    }

    public static func scenario(faultAfterSeconds: Double) -> MockScenario {
        let start = Dictionary(uniqueKeysWithValues: providers.map { ($0.slug, profile($0, faulty: false)) })
        let faulty = providers.first { $0.slug == faultyProvider }!
        return MockScenario(
            providers: start, steps: [.init(atSeconds: faultAfterSeconds, provider: faultyProvider, profile: profile(faulty, faulty: true))]
        )
    }

    /// The demo's policy: the default, with probes paced for a one-minute story.
    public static func policy() -> Policy {
        var policy = Policy.default
        policy.probing.intervalSeconds = 0.5
        policy.probing.suspiciousIntervalSeconds = 0.25
        policy.probing.maxPerMinute = 240
        policy.probing.concurrency = 10
        policy.probing.timeoutSeconds = 10
        return policy
    }

    /// The demo's configuration; `mockBaseURL` is the local mock provider (`http://127.0.0.1:PORT`).
    public static func configurationYAML(
        listen: String, dataDirectory: String, epochIntervalSeconds: Int, mockBaseURL: String, probesDirectory: String
    ) -> String {
        var yaml = """
            listen: "\(listen)"
            data_dir: "\(dataDirectory)"
            epoch_interval_seconds: \(epochIntervalSeconds)
            probes_dir: "\(probesDirectory)"
            endpoints:

            """
        for provider in providers {
            yaml += """
                  - provider: \(provider.slug)
                    model: \(model)
                    base_url: \(mockBaseURL)/\(provider.slug)/v1
                    quantization: \(provider.quantization)
                    pricing: {prompt_per_million_usd: \(provider.promptPrice), completion_per_million_usd: \(provider.completionPrice)}
                    context_length: 131072
                    supported_parameters: [tools, tool_choice, response_format]
                    data_collection: \(provider.slug == "budgetgpu" ? "allow" : "deny")
                    zdr: \(provider.slug == "eurohost")
                    regions: [\(provider.region)]

                """
        }
        return yaml
    }
}
