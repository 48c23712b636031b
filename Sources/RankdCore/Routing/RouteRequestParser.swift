/// Reads a `POST /v1/route` body (or query parameters turned into JSON) strictly: an unknown field
/// or a wrong type is an error naming the field and saying what is expected.
public enum RouteRequestParser {
    public struct FieldError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Dotted path, e.g. `provider.max_price.prompt`.
        public var field: String
        public var message: String

        public var description: String { "\(field): \(message)" }

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    /// Every problem of one request.
    public struct FieldErrors: Error, Hashable, Sendable {
        public var errors: [FieldError]

        public init(errors: [FieldError]) {
            self.errors = errors
        }
    }

    static let topKeys: Set<String> = ["model", "provider", "parameters", "seed", "request_id", "context_tokens"]
    static let providerKeys: Set<String> = [
        "order", "allow_fallbacks", "require_parameters", "data_collection", "zdr", "only", "ignore", "quantizations", "sort",
        "max_price", "preferred_min_throughput", "preferred_max_latency", "region", "enforce_distillable_text",
    ]

    public static func parse(_ body: JSONValue) -> Result<RouteRequest, FieldErrors> {
        var errors: [FieldError] = []
        guard case .object(let object) = body else {
            return .failure(
                FieldErrors(errors: [
                    FieldError(field: "body", message: "must be a JSON object like {\"model\": \"author/name\", \"provider\": {...}}")
                ]))
        }
        for key in object.keys.sorted() where !topKeys.contains(key) {
            errors.append(FieldError(field: key, message: "is not a known field; known: \(topKeys.sorted().joined(separator: ", "))"))
        }
        var request = RouteRequest(model: "", seedSource: .server)
        if let model = object["model"]?.stringValue, !model.isEmpty {
            request.requestedModel = model
            if let (base, variant) = ModelVariant.split(model) {
                (request.model, request.variant) = (base, variant)
            } else {
                request.model = model
            }
        } else {
            errors.append(FieldError(field: "model", message: "is required: the model slug, e.g. meta-llama/llama-3.3-70b-instruct"))
        }
        if let parameters = object["parameters"] {
            request.parameters = strings(parameters, field: "parameters", errors: &errors) ?? []
        }
        switch object["seed"] {
        case .number(let seed)? where seed >= 0 && seed == seed.rounded() && seed <= Double(RouteRequest.maxSeed):
            (request.seed, request.seedSource) = (UInt64(seed), .seed)
        case nil: break
        default: errors.append(FieldError(field: "seed", message: "must be a whole number from 0 to 2^53 - 1 (9007199254740991)"))
        }
        if let requestID = object["request_id"] {
            if let text = requestID.stringValue, object["seed"] == nil {
                (request.seed, request.seedSource) = (RouteRequest.seed(requestID: text), .requestID)
            } else if requestID.stringValue == nil {
                errors.append(FieldError(field: "request_id", message: "must be a string"))
            }
        }
        switch object["context_tokens"] {
        case .number(let tokens)? where tokens >= 1 && tokens == tokens.rounded() && tokens <= 100_000_000:
            request.contextTokens = Int(tokens)
        case nil: break
        default:
            errors.append(
                FieldError(field: "context_tokens", message: "must be a whole number of tokens ≥ 1 (prompt and output the request needs)"))
        }
        if let provider = object["provider"] {
            request.preferences = preferences(provider, errors: &errors)
        }
        return errors.isEmpty ? .success(request) : .failure(FieldErrors(errors: errors))
    }

    static func preferences(_ value: JSONValue, errors: inout [FieldError]) -> ProviderPreferences {
        var preferences = ProviderPreferences()
        guard case .object(let object) = value else {
            errors.append(FieldError(field: "provider", message: "must be an object of preferences"))
            return preferences
        }
        for key in object.keys.sorted() where !providerKeys.contains(key) {
            errors.append(
                FieldError(
                    field: "provider.\(key)", message: "is not a known preference; known: \(providerKeys.sorted().joined(separator: ", "))")
            )
        }
        preferences.order = object["order"].flatMap { strings($0, field: "provider.order", errors: &errors) }
        preferences.only = object["only"].flatMap { strings($0, field: "provider.only", errors: &errors) }
        preferences.ignore = object["ignore"].flatMap { strings($0, field: "provider.ignore", errors: &errors) }
        preferences.allowFallbacks = bool(object["allow_fallbacks"], field: "provider.allow_fallbacks", default: true, errors: &errors)
        preferences.requireParameters = bool(
            object["require_parameters"], field: "provider.require_parameters", default: false, errors: &errors)
        preferences.zdr = bool(object["zdr"], field: "provider.zdr", default: false, errors: &errors)
        preferences.enforceDistillableText = bool(
            object["enforce_distillable_text"], field: "provider.enforce_distillable_text", default: false, errors: &errors)
        if let collection = object["data_collection"] {
            if let parsed = collection.stringValue.flatMap(DataCollection.init(rawValue:)) {
                preferences.dataCollection = parsed
            } else {
                errors.append(FieldError(field: "provider.data_collection", message: "must be \"allow\" or \"deny\""))
            }
        }
        if let quantizations = object["quantizations"].flatMap({ strings($0, field: "provider.quantizations", errors: &errors) }) {
            let known: Set<String> = ["int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16", "bf16", "fp32", "unknown"]
            for (index, name) in quantizations.enumerated() where !known.contains(name.lowercased()) {
                errors.append(
                    FieldError(
                        field: "provider.quantizations[\(index)]",
                        message: "\"\(name)\" is not one of \(known.sorted().joined(separator: ", "))"))
            }
            preferences.quantizations = quantizations
        }
        if let sort = object["sort"] {
            // A name, or OpenRouter's {"by": "price", "partition": "model" | "none"}.
            let field = sort.stringValue == nil ? "provider.sort.by" : "provider.sort"
            if case .object(let fields) = sort {
                for key in fields.keys.sorted() where key != "by" && key != "partition" {
                    errors.append(FieldError(field: "provider.sort.\(key)", message: "is not a known key; known: by, partition"))
                }
                if let partition = fields["partition"] {
                    if let value = partition.stringValue, value == "model" || value == "none" {
                        preferences.sortPartition = value
                    } else {
                        errors.append(FieldError(field: "provider.sort.partition", message: "must be \"model\" or \"none\""))
                    }
                }
            }
            let name = sort.stringValue ?? sort["by"]?.stringValue
            if let parsed = name.flatMap(ProviderPreferences.Sort.init(rawValue:)) {
                preferences.sort = parsed
            } else {
                errors.append(FieldError(field: field, message: "must be \"price\", \"throughput\" or \"latency\""))
            }
        }
        if let maxPrice = object["max_price"] {
            if case .object(let prices) = maxPrice {
                for key in prices.keys.sorted() where !["prompt", "completion", "request", "image"].contains(key) {
                    errors.append(
                        FieldError(
                            field: "provider.max_price.\(key)", message: "is not a known price; use prompt, completion, request or image (USD)"))
                }
                preferences.maxPrice = ProviderPreferences.MaxPrice(
                    prompt: number(prices["prompt"], field: "provider.max_price.prompt", errors: &errors),
                    completion: number(prices["completion"], field: "provider.max_price.completion", errors: &errors),
                    request: number(prices["request"], field: "provider.max_price.request", errors: &errors),
                    image: number(prices["image"], field: "provider.max_price.image", errors: &errors))
            } else {
                errors.append(FieldError(field: "provider.max_price", message: "must be an object like {\"prompt\": 1, \"completion\": 2}"))
            }
        }
        preferences.preferredMinThroughput = percentileCutoffs(
            object["preferred_min_throughput"], field: "provider.preferred_min_throughput", errors: &errors)
        preferences.preferredMaxLatencySeconds = percentileCutoffs(
            object["preferred_max_latency"], field: "provider.preferred_max_latency", errors: &errors)
        if let region = object["region"] {
            preferences.regions = region.stringValue.map { [$0] } ?? strings(region, field: "provider.region", errors: &errors)
        }
        return preferences
    }

    static func strings(_ value: JSONValue, field: String, errors: inout [FieldError]) -> [String]? {
        guard case .array(let items) = value, items.allSatisfy({ $0.stringValue != nil }) else {
            errors.append(FieldError(field: field, message: "must be a list of strings"))
            return nil
        }
        return items.compactMap(\.stringValue)
    }

    static func bool(_ value: JSONValue?, field: String, default fallback: Bool, errors: inout [FieldError]) -> Bool {
        guard let value else { return fallback }
        guard case .bool(let flag) = value else {
            errors.append(FieldError(field: field, message: "must be true or false"))
            return fallback
        }
        return flag
    }

    static func number(_ value: JSONValue?, field: String, errors: inout [FieldError]) -> Double? {
        guard let value else { return nil }
        guard case .number(let number) = value, number >= 0 else {
            errors.append(FieldError(field: field, message: "must be a number ≥ 0"))
            return nil
        }
        return number
    }

    /// A number (the p50 cut-off) or `{"p50": n, "p75": n, "p90": n, "p99": n}` (any of them).
    static func percentileCutoffs(_ value: JSONValue?, field: String, errors: inout [FieldError]) -> [Percentiles.Percentile: Double]? {
        guard let value else { return nil }
        guard case .object(let object) = value else { return number(value, field: field, errors: &errors).map { [.p50: $0] } }
        var cutoffs: [Percentiles.Percentile: Double] = [:]
        for key in object.keys.sorted() {
            guard let percentile = Percentiles.Percentile(rawValue: key) else {
                errors.append(FieldError(field: "\(field).\(key)", message: "is not a percentile; give p50, p75, p90 or p99"))
                continue
            }
            if let cutoff = number(object[key], field: "\(field).\(key)", errors: &errors) { cutoffs[percentile] = cutoff }
        }
        return cutoffs.isEmpty ? nil : cutoffs
    }

}
