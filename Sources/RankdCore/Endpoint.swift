/// One provider serving one model: the unit rankd ranks.
public struct Endpoint: Hashable, Codable, Sendable {
    /// Stable id, unique across the registry. Defaults to `provider:model` in configuration.
    public var id: String
    /// Logical model slug, `author/name`.
    public var model: String
    /// Provider slug, e.g. `deepinfra`.
    public var provider: String
    /// OpenAI-compatible base URL (requests go to `{baseURL}/chat/completions`).
    public var baseURL: String
    /// The model name this provider expects in requests.
    public var upstreamModel: String
    /// Name of the environment variable that holds the API key; the key itself never enters rankd's state.
    public var apiKeyEnvironmentVariable: String?
    /// Quantization as OpenRouter names it (`fp8`, `bf16`, ... or `unknown`).
    public var quantization: String
    public var pricing: Pricing
    /// Context window in tokens, when known.
    public var contextLength: Int?
    /// Request parameters the endpoint supports (`tools`, `tool_choice`, `response_format`, ...).
    public var supportedParameters: [String]
    public var dataCollection: DataCollection
    /// Zero data retention.
    public var zeroDataRetention: Bool
    /// Region codes the endpoint serves from (`us`, `eu`, ...).
    public var regions: [String]
    /// A disabled endpoint is listed with status `disabled`, last, and never probed.
    public var enabled: Bool
    /// The provider's terms allow distilling the model's text output (OpenRouter's
    /// `enforce_distillable_text` keeps only these). Nil, as in registries stored before it: not declared, so no.
    public var distillable: Bool?

    public init(
        id: String, model: String, provider: String, baseURL: String, upstreamModel: String,
        apiKeyEnvironmentVariable: String? = nil, quantization: String = "unknown",
        pricing: Pricing = Pricing(), contextLength: Int? = nil,
        supportedParameters: [String] = ["tools", "tool_choice"], dataCollection: DataCollection = .allow,
        zeroDataRetention: Bool = false, regions: [String] = [], enabled: Bool = true, distillable: Bool? = nil
    ) {
        self.distillable = distillable
        self.id = id
        self.model = model
        self.provider = provider
        self.baseURL = baseURL
        self.upstreamModel = upstreamModel
        self.apiKeyEnvironmentVariable = apiKeyEnvironmentVariable
        self.quantization = quantization
        self.pricing = pricing
        self.contextLength = contextLength
        self.supportedParameters = supportedParameters
        self.dataCollection = dataCollection
        self.zeroDataRetention = zeroDataRetention
        self.regions = regions
        self.enabled = enabled
    }
}

/// Prices in US dollars.
public struct Pricing: Hashable, Codable, Sendable {
    public var promptPerMillionTokensUSD: Double
    public var completionPerMillionTokensUSD: Double
    public var perRequestUSD: Double
    /// Per input image (OpenRouter's `max_price.image`). Nil, as in registries stored before it: not priced.
    public var perImageUSD: Double?

    public init(
        promptPerMillionTokensUSD: Double = 0, completionPerMillionTokensUSD: Double = 0, perRequestUSD: Double = 0,
        perImageUSD: Double? = nil
    ) {
        self.perImageUSD = perImageUSD
        self.promptPerMillionTokensUSD = promptPerMillionTokensUSD
        self.completionPerMillionTokensUSD = completionPerMillionTokensUSD
        self.perRequestUSD = perRequestUSD
    }
}

/// Whether the provider may keep and train on request data (OpenRouter's `data_collection`).
public enum DataCollection: String, Codable, Sendable, CaseIterable {
    case allow
    case deny
}
