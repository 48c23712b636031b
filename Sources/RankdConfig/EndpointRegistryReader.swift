import Foundation
import RankdCore
import Yams

/// Reads the `endpoints:` list of `rankd.yaml` into the registry.
enum EndpointRegistryReader {
    static let knownParameters: Set<String> = [
        "tools", "tool_choice", "response_format", "structured_outputs", "temperature", "top_p", "top_k", "max_tokens",
        "stop", "seed", "frequency_penalty", "presence_penalty", "repetition_penalty", "logprobs", "top_logprobs",
        "logit_bias", "min_p", "reasoning", "include_reasoning", "parallel_tool_calls", "stream",
    ]

    static func read(_ fields: YAMLFields, problems: ProblemList) -> [Endpoint] {
        guard let items = fields.sequence("endpoints") else {
            if !fields.has("endpoints") {
                fields.report("endpoints", nil, "is required: list the provider endpoints to rank (see deploy/rankd.example.yaml)")
            }
            return []
        }
        var endpoints: [Endpoint] = []
        var seen: [String: String] = [:]
        for (index, item) in items.enumerated() {
            let path = "endpoints[\(index)]"
            let entry = YAMLFields(item, file: fields.file, path: path, problems: problems)
            let model = entry.string("model", required: true, hint: "the model slug, e.g. meta-llama/llama-3.3-70b-instruct") ?? ""
            if !model.isEmpty,
                model.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._:-]*$", options: .regularExpression) == nil
            {
                entry.reportKey("model", "\"\(model)\" is not an author/name slug; write it like meta-llama/llama-3.3-70b-instruct")
            }
            let provider = entry.string("provider", required: true, hint: "the provider slug, e.g. deepinfra") ?? ""
            if !provider.isEmpty, provider.range(of: "^[a-z0-9][a-z0-9._/-]*$", options: .regularExpression) == nil {
                entry.reportKey("provider", "\"\(provider)\" is not a slug; use lower-case letters, digits, '.', '-', '_' and '/'")
            }
            let baseURL =
                entry.string("base_url", required: true, hint: "the OpenAI-compatible base URL, e.g. https://api.example.com/v1") ?? ""
            if !baseURL.isEmpty, baseURL.range(of: "^https?://[^\\s/]+(/\\S*)?$", options: .regularExpression) == nil {
                entry.reportKey("base_url", "\"\(baseURL)\" is not an http(s) URL; write it like https://api.example.com/v1")
            }
            let id = entry.string("id") ?? "\(provider):\(model)"
            if let first = seen[id] {
                entry.reportKey("id", "\"\(id)\" is already used by \(first); give one of them a distinct id")
            }
            seen[id] = seen[id] ?? path
            let upstream = entry.string("upstream_model") ?? model
            let apiKeyEnv = entry.string("api_key_env")
            if let apiKeyEnv, apiKeyEnv.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
                entry.reportKey(
                    "api_key_env", "\"\(apiKeyEnv)\" is not an environment variable name; the key itself never goes in this file")
            }
            if entry.has("api_key") {
                _ = entry.node("api_key")
                entry.reportKey(
                    "api_key", "API keys are never written inline; put the key in an environment variable and name it in api_key_env")
            }
            let quantization = entry.string("quantization") ?? "unknown"
            if !ConfigurationLoader.quantizations.contains(quantization) {
                entry.reportKey(
                    "quantization", "\"\(quantization)\" is not one of \(ConfigurationLoader.quantizations.joined(separator: ", "))")
            }
            let pricing = entry.fields("pricing")
            let price = Pricing(
                promptPerMillionTokensUSD: pricing.double("prompt_per_million_usd", default: 0, range: 0...10_000, unit: "USD"),
                completionPerMillionTokensUSD: pricing.double("completion_per_million_usd", default: 0, range: 0...10_000, unit: "USD"),
                perRequestUSD: pricing.double("request_usd", default: 0, range: 0...100, unit: "USD"),
                perImageUSD: pricing.has("image_usd") ? pricing.double("image_usd", default: 0, range: 0...100, unit: "USD") : nil)
            pricing.finish()
            let contextLength = entry.optionalInt("context_length", range: 1...100_000_000)
            let parameters = entry.stringList("supported_parameters", default: ["tools", "tool_choice"])
            for (offset, parameter) in parameters.enumerated() where !knownParameters.contains(parameter) {
                entry.reportKey(
                    "supported_parameters", suffix: "[\(offset)]",
                    "\"\(parameter)\" is not a known request parameter; known: \(knownParameters.sorted().joined(separator: ", "))")
            }
            let dataCollectionText = entry.string("data_collection") ?? "allow"
            let dataCollection = DataCollection(rawValue: dataCollectionText)
            if dataCollection == nil {
                entry.reportKey("data_collection", "\"\(dataCollectionText)\" must be allow or deny")
            }
            let zdr = entry.bool("zdr", default: false)
            let regions = entry.stringList("regions", default: [])
            for (offset, region) in regions.enumerated()
            where region.range(of: "^[a-z]{2}(-[a-z0-9-]+)?$", options: .regularExpression) == nil {
                entry.reportKey(
                    "regions", suffix: "[\(offset)]", "\"\(region)\" is not a region code; use lower case like us, eu or eu-west-1")
            }
            let enabled = entry.bool("enabled", default: true)
            let distillable = entry.has("distillable") ? entry.bool("distillable", default: false) : nil
            entry.finish()
            endpoints.append(
                Endpoint(
                    id: id, model: model, provider: provider, baseURL: baseURL, upstreamModel: upstream,
                    apiKeyEnvironmentVariable: apiKeyEnv, quantization: quantization, pricing: price, contextLength: contextLength,
                    supportedParameters: parameters, dataCollection: dataCollection ?? .allow, zeroDataRetention: zdr,
                    regions: regions, enabled: enabled, distillable: distillable))
        }
        if items.isEmpty { fields.report("endpoints", nil, "is empty; list at least one endpoint") }
        return endpoints
    }
}
