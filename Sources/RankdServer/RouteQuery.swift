import Foundation
import RankdCore

/// Query parameters of `GET /v1/rankings/{model}` as a route request body, so both forms share one
/// strict parser: lists are comma-separated (`only=a,b`), `max_price.prompt=0.5`,
/// `preferred_max_latency.p90=2` (a cut-off at that percentile; the plain name is p50).
enum RouteQuery {
    static let lists: Set<String> = ["order", "only", "ignore", "quantizations", "region"]
    static let bools: Set<String> = ["allow_fallbacks", "require_parameters", "zdr", "enforce_distillable_text"]
    static let strings: Set<String> = ["data_collection", "sort"]
    static let numbers: Set<String> = ["preferred_min_throughput", "preferred_max_latency"]
    static let prices = [
        "max_price.prompt": "prompt", "max_price.completion": "completion", "max_price.request": "request", "max_price.image": "image",
    ]

    /// The body, or the names of parameters that are not preferences.
    static func body(model: String, query: [(String, String)]) -> Result<JSONValue, RouteRequestParser.FieldErrors> {
        var top: [String: JSONValue] = ["model": .string(model)]
        var provider: [String: JSONValue] = [:]
        var maxPrice: [String: JSONValue] = [:]
        var cutoffs: [String: [String: JSONValue]] = [:]
        var errors: [RouteRequestParser.FieldError] = []
        for (name, value) in query {
            let list = JSONValue.array(value.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
            if lists.contains(name) {
                provider[name] = list
            } else if bools.contains(name) {
                provider[name] = value == "true" ? .bool(true) : value == "false" ? .bool(false) : .string(value)
            } else if strings.contains(name) {
                provider[name] = .string(value)
            } else if numbers.contains(name) {
                cutoffs[name, default: [:]]["p50"] = Double(value).map(JSONValue.number) ?? .string(value)
            } else if let dot = name.firstIndex(of: "."), numbers.contains(String(name[..<dot])) {
                // The percentile is checked by the parser, which names an unknown one.
                cutoffs[String(name[..<dot]), default: [:]][String(name[name.index(after: dot)...])] =
                    Double(value).map(JSONValue.number) ?? .string(value)
            } else if let key = prices[name] {
                maxPrice[key] = Double(value).map(JSONValue.number) ?? .string(value)
            } else if name == "parameters" {
                top["parameters"] = list
            } else if name == "seed" {
                top["seed"] = Double(value).map(JSONValue.number) ?? .string(value)
            } else if name == "request_id" {
                top["request_id"] = .string(value)
            } else if name == "context_tokens" {
                top["context_tokens"] = Double(value).map(JSONValue.number) ?? .string(value)
            } else {
                errors.append(
                    .init(
                        field: name,
                        message:
                            "is not a routing preference; known: \((lists.union(bools).union(strings).union(numbers).union(prices.keys).union(["parameters", "seed", "request_id", "context_tokens"]).union(numbers.map { "\($0).p90" })).sorted().joined(separator: ", "))"
                    ))
            }
        }
        if !maxPrice.isEmpty { provider["max_price"] = .object(maxPrice) }
        for (name, percentiles) in cutoffs { provider[name] = .object(percentiles) }
        if !provider.isEmpty { top["provider"] = .object(provider) }
        return errors.isEmpty ? .success(.object(top)) : .failure(.init(errors: errors))
    }
}
