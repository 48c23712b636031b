import Foundation
import RankdConfig
import RankdCore
import RankdMock
import RankdProber
import RankdTestKit
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite struct MockControlTests {
    func put(_ url: String, _ body: String) async throws -> Int {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "PUT"
        request.httpBody = Data(body.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        return try #require(response as? HTTPURLResponse).statusCode
    }

    @Test func profilesChangeAtRunTimeThroughTheControlRoute() async throws {
        try await withMock(["acme": profile()]) { base, fleet in
            let runner = ProbeRunner()
            let before = await runner.run(probeCase("order-lookup"), on: endpoint("acme", base: base)) { Timestamp(secondsSince1970: 0) }
            #expect(before.verdict.outcome == .ok)
            let accepted = try await put("\(base)/control/providers/acme", #"{"ttft_ms": 5, "wrong_tool": 1}"#)
            #expect(accepted == 200)
            #expect(fleet.profile("acme")?.wrongTool == 1)
            let after = await runner.run(probeCase("two-tools-one-fits"), on: endpoint("acme", base: base)) {
                Timestamp(secondsSince1970: 0)
            }
            #expect(after.verdict.outcome == .wrongTool)
            let negative = try await put("\(base)/control/providers/acme", #"{"ttft_ms": -1}"#)
            let garbage = try await put("\(base)/control/providers/acme", "not json")
            #expect(negative == 400)
            #expect(garbage == 400)
            #expect(fleet.profile("acme")?.wrongTool == 1, "a refused change leaves the profile as it was")
        }
    }

    @Test func scenarioFilesAreValidated() throws {
        let scenario = try MockScenarioLoader.parse(
            yaml: """
                providers:
                  fastco: {ttft_ms: 180, tokens_per_second: 190}
                  slowco: {ttft_ms: 2500}
                schedule:
                  - {at_seconds: 60, provider: fastco, set: {wrong_value: 0.25}}
                  - {at_seconds: 30, provider: slowco, set: {http_5xx: 1}}
                """, file: "s.yaml")
        #expect(scenario.providers["fastco"]?.tokensPerSecond == 190)
        #expect(scenario.steps.map(\.atSeconds) == [30, 60])
        #expect(scenario.steps[1].profile.wrongValue == 0.25)

        #expect(throws: ConfigurationErrors.self) {
            try MockScenarioLoader.parse(
                yaml: """
                    providers:
                      fastco: {ttft_ms: 180, wrong_valu: 0.2, http_5xx: 1.5}
                    schedule:
                      - {at_seconds: 5, provider: nobody, set: {}}
                    """, file: "s.yaml")
        }
        do {
            _ = try MockScenarioLoader.parse(
                yaml: "providers:\n  fastco: {wrong_valu: 0.2, http_5xx: 1.5}\nschedule:\n  - {at_seconds: 5, provider: nobody, set: {}}\n",
                file: "s.yaml")
        } catch let errors as ConfigurationErrors {
            let text = errors.description
            #expect(text.contains("providers.fastco.wrong_valu: is not a profile key"))
            #expect(text.contains("http_5xx must be a probability"))
            #expect(text.contains("schedule[0].provider: \"nobody\" is not listed"))
        }
    }
}
