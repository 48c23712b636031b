import Foundation
import RankdCore

/// Runs one probe case against one endpoint and turns the answer into an observation.
public struct ProbeRunner: Sendable {
    public var client: CurlClient
    public var timeouts: Timeouts
    /// Reads an environment variable (the endpoint's API key); injectable for tests.
    public var environment: @Sendable (String) -> String?

    public struct Timeouts: Sendable {
        public var connectMilliseconds = 5_000
        public var totalMilliseconds = 60_000
        public var maxResponseBytes = 1 << 20

        public init(connectMilliseconds: Int = 5_000, totalMilliseconds: Int = 60_000, maxResponseBytes: Int = 1 << 20) {
            self.connectMilliseconds = connectMilliseconds
            self.totalMilliseconds = totalMilliseconds
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// A runner with the policy's timeouts and size cap.
    public init(rule: Policy.Probing) {
        self.init(
            timeouts: Timeouts(
                connectMilliseconds: Int(rule.connectTimeoutSeconds * 1_000), totalMilliseconds: Int(rule.timeoutSeconds * 1_000),
                maxResponseBytes: rule.maxResponseBytes))
    }

    /// One finished probe: the observation for the ranker, the verdict and the raw exchange.
    public struct Result: Sendable {
        public var observation: Observation
        public var verdict: ProbeVerdict
        public var exchange: ChatExchange
        public var caseID: String
        /// Size of the request body sent, for cost estimates.
        public var requestBytes: Int
    }

    public init(
        client: CurlClient = CurlClient(), timeouts: Timeouts = Timeouts(),
        environment: @escaping @Sendable (String) -> String? = { ProcessInfo.processInfo.environment[$0] }
    ) {
        self.client = client
        self.timeouts = timeouts
        self.environment = environment
    }

    /// Sends the case; `finishedAt` is asked for the observation's time after the answer arrives.
    /// - Parameter noFirstToken: when given, called once if no first token has come after
    ///   `bound` milliseconds (slow evidence before the probe ends).
    public func run(
        _ probe: ProbeCase, on endpoint: Endpoint, noFirstToken: (bound: Int, report: @Sendable (Double) -> Void)? = nil,
        finishedAt: @Sendable () -> Timestamp
    ) async -> Result {
        let base = endpoint.baseURL.hasSuffix("/") ? String(endpoint.baseURL.dropLast()) : endpoint.baseURL
        let body = Data(probe.requestBody(model: endpoint.upstreamModel).jsonText.utf8)
        var request = ChatRequest(
            url: "\(base)/chat/completions", body: body, stream: probe.stream,
            apiKey: endpoint.apiKeyEnvironmentVariable.flatMap(environment),
            connectTimeoutMilliseconds: timeouts.connectMilliseconds, totalTimeoutMilliseconds: timeouts.totalMilliseconds,
            maxResponseBytes: timeouts.maxResponseBytes)
        request.firstTokenBoundMilliseconds = noFirstToken?.bound
        request.onNoFirstToken = noFirstToken?.report
        let exchange = await client.send(request)
        let verdict = ProbeValidator.classify(transport: exchange.transport, response: exchange.response, probe: probe)
        let answered = verdict.outcome == .ok || verdict.outcome.isToolCallFailure
        let observation = Observation(
            endpointID: endpoint.id, time: finishedAt(), source: .probe, outcome: verdict.outcome,
            toolsOffered: !probe.tools.isEmpty,
            ttftMilliseconds: answered ? exchange.ttftMilliseconds : nil,
            latencyMilliseconds: answered ? exchange.totalMilliseconds : nil,
            outputTokensPerSecond: answered ? exchange.outputTokensPerSecond : nil,
            retryAfterSeconds: { if case .completed(429, let seconds) = exchange.transport { seconds } else { nil } }())
        return Result(observation: observation, verdict: verdict, exchange: exchange, caseID: probe.id, requestBytes: body.count)
    }
}
