import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RankdCore

/// The mock provider's routes:
/// - `POST /{provider}/v1/chat/completions`: OpenAI-compatible, streaming or not;
/// - `GET /control/providers`: every profile;
/// - `PUT /control/providers/{provider}`: replace one profile (JSON; missing keys take defaults).
public func buildMockRouter(fleet: MockFleet) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.post("{provider}/v1/chat/completions") { request, context in
        let provider = try context.parameters.require("provider")
        return try await MockResponder(fleet: fleet).respond(provider: provider, request: request)
    }
    router.get("control/providers") { _, _ in
        MockResponder.json(.ok, try JSONEncoder.sorted.encode(fleet.allProfiles))
    }
    router.put("control/providers/{provider}") { request, context in
        let provider = try context.parameters.require("provider")
        let body = try await request.body.collect(upTo: 64 * 1024)
        guard let profile = try? JSONDecoder().decode(MockProfile.self, from: Data(body.readableBytesView)) else {
            return MockResponder.error(.badRequest, "the body must be a JSON profile, e.g. {\"ttft_ms\": 300, \"wrong_value\": 0.25}")
        }
        let problems = profile.problems()
        guard problems.isEmpty else { return MockResponder.error(.badRequest, problems.joined(separator: "; ")) }
        fleet.setProfile(provider, profile)
        return MockResponder.json(.ok, try JSONEncoder.sorted.encode(profile))
    }
    return router
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

struct MockResponder {
    let fleet: MockFleet

    func respond(provider: String, request: Request) async throws -> Response {
        guard let profile = fleet.profile(provider) else {
            return Self.error(
                .notFound, "no simulated provider \"\(provider)\"; known: \(fleet.allProfiles.keys.sorted().joined(separator: ", "))")
        }
        fleet.countRequest(provider)
        if let key = profile.apiKey, request.headers[.authorization] != "Bearer \(key)" {
            return Self.error(.unauthorized, "missing or wrong API key: send Authorization: Bearer <api_key of the scenario>")
        }
        let arrived = ContinuousClock.now
        let body = try await request.body.collect(upTo: 4 << 20)
        guard let chat = JSONValue.parse(Data(body.readableBytesView)), chat["messages"]?.arrayValue != nil else {
            return Self.error(.badRequest, "the body must be a chat completion request with messages")
        }
        let stream = chat["stream"] == .bool(true)
        if let hostile = profile.hostile { return Self.hostileAnswer(hostile, bytes: profile.hostileBytes) }
        let fault = profile.fault(drawn: fleet.uniform(for: provider))
        switch fault {
        case .http5xx:
            return Self.error(.serviceUnavailable, "simulated upstream failure")
        case .http429:
            var response = Self.error(.tooManyRequests, "simulated rate limit")
            response.headers[.retryAfter] = String(Int(profile.retryAfterSeconds.rounded(.up)))
            return response
        case .hang:
            try? await Task.sleep(for: .milliseconds(Int64(profile.hangSeconds * 1_000)))
            return Self.error(.gatewayTimeout, "simulated hang ended")
        default:
            break
        }
        var (answer, probe, tools) = MockAnswer.correct(request: chat, cases: fleet.casesByPrompt)
        if let fault { answer = MockAnswer.apply(fault, to: answer, probe: probe, tools: tools) }

        let jitter = { (value: Double) -> Double in
            profile.jitter > 0 ? value * (1 + profile.jitter * (2 * self.fleet.uniform(for: provider) - 1)) : value
        }
        let ttft = Duration.microseconds(Int64(max(0, jitter(profile.ttftMs)) * 1_000))
        let tokenInterval = Duration.microseconds(Int64(1_000_000 / max(0.001, jitter(profile.tokensPerSecond))))
        let model = chat["model"]?.stringValue ?? "mock"
        let plan = MockStreamPlan(answer: answer, model: model, truncate: fault == .truncated, paddingBytes: profile.paddingBytes)
        if stream {
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    let first = arrived + ttft
                    for (index, event) in plan.events.enumerated() {
                        // Absolute deadlines: pacing errors do not add up over a long answer. Token k
                        // (0-based, counting a leading tool header) goes out at first + k × interval.
                        let deadline = first + tokenInterval * max(0, index - plan.leadingEvents + plan.leadingTokens)
                        try await Task.sleep(until: index < plan.leadingEvents ? first : deadline, tolerance: .zero, clock: .continuous)
                        try await writer.write(ByteBuffer(string: event))
                    }
                    try await writer.finish(nil)
                })
        }
        try await Task.sleep(until: arrived + ttft + tokenInterval * max(0, plan.tokenCount - 1), tolerance: .zero, clock: .continuous)
        return Self.json(.ok, Data(plan.completeBody.utf8))
    }

    /// A 200 that never turns into a usable answer; each ends only when the client hangs up (a
    /// failed write) or, for `huge_body` and `invalid_utf8`, when everything was sent.
    static func hostileAnswer(_ hostile: MockProfile.Hostile, bytes: Int) -> Response {
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        let chunk = #"data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#
            + "\n\n"
        switch hostile {
        case .trickle:
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    var index = 0
                    let bytes = Array(chunk.utf8)
                    while true {
                        try await writer.write(ByteBuffer(bytes: [bytes[index % bytes.count]]))
                        index += 1
                        try await Task.sleep(for: .seconds(1))
                    }
                })
        case .hugeBody:
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    let block = ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 << 10)
                    var sent = 0
                    while sent < bytes {
                        try await writer.write(block.getSlice(at: 0, length: min(block.readableBytes, bytes - sent))!)
                        sent += block.readableBytes
                    }
                    try await writer.finish(nil)
                })
        case .invalidUTF8:
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    var bad = ByteBuffer(string: #"data: {"choices":[{"index":0,"delta":{"content":""#)
                    bad.writeBytes([0xFF, 0xFE, 0xC3, 0x28, 0xA0, 0xA1])
                    bad.writeString(#""},"finish_reason":null}]}"# + "\n\n")
                    for _ in 0..<5 { try await writer.write(bad) }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                })
        case .endlessSSE:
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    while true {
                        try await writer.write(ByteBuffer(string: chunk))
                        try await Task.sleep(for: .milliseconds(10))
                    }
                })
        }
    }

    static func json(_ status: HTTPResponse.Status, _ data: Data) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = JSONValue.object([
            "error": .object(["message": .string(message), "type": .string("mock_error"), "code": .number(Double(status.code))])
        ])
        return json(status, Data(body.jsonText.utf8))
    }
}
