import RankdCore

/// The built-in demo: one model served by five simulated providers (one fast provider starts
/// breaking tool calls after `faultAfterSeconds`) and a second model with three healthy ones.
public enum DemoFleet {
    /// How one simulated provider behaves.
    public struct Profile: Sendable {
        public var endpointID: String
        /// Requests per second of simulated traffic.
        public var requestsPerSecond: Double
        public var ttftMilliseconds: Double
        public var tokensPerSecond: Double
        /// Share of requests failing before/after the fault starts.
        public var toolFailureRate: Double
        public var errorRate: Double
        public var toolFailureRateAfterFault: Double?
    }

    public static let model = "meta-llama/llama-3.3-70b-instruct"
    public static let secondModel = "qwen/qwen3-235b-a22b"

    public static func profiles() -> [Profile] {
        [
            Profile(
                endpointID: "swiftinfer:\(model)", requestsPerSecond: 6, ttftMilliseconds: 180, tokensPerSecond: 190, toolFailureRate: 0.01,
                errorRate: 0.005, toolFailureRateAfterFault: 0.35),
            Profile(
                endpointID: "steadycloud:\(model)", requestsPerSecond: 5, ttftMilliseconds: 420, tokensPerSecond: 85, toolFailureRate: 0.01,
                errorRate: 0.005),
            Profile(
                endpointID: "budgetgpu:\(model)", requestsPerSecond: 4, ttftMilliseconds: 650, tokensPerSecond: 55, toolFailureRate: 0.02,
                errorRate: 0.01),
            Profile(
                endpointID: "eurohost:\(model)", requestsPerSecond: 3, ttftMilliseconds: 380, tokensPerSecond: 95, toolFailureRate: 0.015,
                errorRate: 0.005),
            Profile(
                endpointID: "slowpoke:\(model)", requestsPerSecond: 3, ttftMilliseconds: 2_600, tokensPerSecond: 30, toolFailureRate: 0.01,
                errorRate: 0.01),
            Profile(
                endpointID: "steadycloud:\(secondModel)", requestsPerSecond: 3, ttftMilliseconds: 500, tokensPerSecond: 70,
                toolFailureRate: 0.02, errorRate: 0.005),
            Profile(
                endpointID: "budgetgpu:\(secondModel)", requestsPerSecond: 3, ttftMilliseconds: 700, tokensPerSecond: 50,
                toolFailureRate: 0.03, errorRate: 0.01),
            Profile(
                endpointID: "eurohost:\(secondModel)", requestsPerSecond: 2, ttftMilliseconds: 450, tokensPerSecond: 80,
                toolFailureRate: 0.02, errorRate: 0.005),
        ]
    }

    /// The demo's configuration (no secrets; the admin API is off). Base URLs are placeholders on
    /// loopback: the demo's traffic is simulated in-process, nothing is sent to them.
    public static func configurationYAML(listen: String, dataDirectory: String, epochIntervalSeconds: Int) -> String {
        let providers: [(String, String, String, Double, Double, String)] = [
            ("swiftinfer", model, "fp8", 0.60, 0.80, "us"), ("steadycloud", model, "bf16", 0.88, 0.88, "us"),
            ("budgetgpu", model, "int4", 0.12, 0.30, "us"), ("eurohost", model, "fp8", 0.70, 0.90, "eu"),
            ("slowpoke", model, "fp16", 0.35, 0.40, "us"), ("steadycloud", secondModel, "bf16", 0.22, 0.88, "us"),
            ("budgetgpu", secondModel, "fp8", 0.13, 0.60, "us"), ("eurohost", secondModel, "fp8", 0.20, 0.80, "eu"),
        ]
        var yaml = """
            listen: "\(listen)"
            data_dir: "\(dataDirectory)"
            epoch_interval_seconds: \(epochIntervalSeconds)
            endpoints:

            """
        for (index, (provider, model, quantization, prompt, completion, region)) in providers.enumerated() {
            yaml += """
                  - provider: \(provider)
                    model: \(model)
                    base_url: http://127.0.0.1:9\(index)/\(provider)/v1
                    quantization: \(quantization)
                    pricing: {prompt_per_million_usd: \(prompt), completion_per_million_usd: \(completion)}
                    context_length: 131072
                    supported_parameters: [tools, tool_choice, response_format]
                    data_collection: \(provider == "budgetgpu" ? "allow" : "deny")
                    zdr: \(provider == "eurohost")
                    regions: [\(region)]

                """
        }
        return yaml
    }
}
