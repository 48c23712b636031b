import RankdConfig
import RankdCore
import RankdTestKit
import Testing

@Suite struct ProbeSuiteLoaderTests {
    @Test func shippedSuiteCoversWhatTheIssueAsks() {
        let cases = shippedSuite.cases
        #expect(cases.count >= 12)
        #expect(cases.contains { $0.expectation == .noToolCall }, "a no-tool control")
        #expect(cases.contains { if case .function = $0.toolChoice { true } else { false } }, "a forced tool")
        #expect(cases.contains { $0.tools.count >= 2 && $0.expectation != .noToolCall }, "two tools, one fits")
        #expect(cases.contains { !$0.stream } && cases.contains { $0.stream })
        #expect(Set(cases.flatMap(\.tools).map(\.name)).isSuperset(of: ["get_weather", "search_flights", "create_ticket", "lookup_order"]))
    }

    @Test func problemsNameFileLinePathAndFix() {
        let problems = ProblemList()
        _ = ProbeSuiteLoader.parse(
            yaml: """
                suite: broken
                tools:
                  get_weather:
                    description: Weather.
                    parameters: {type: string}
                cases:
                  - id: a
                    messages: [{system: hello}]
                    tools: [get_weather, teleport]
                    tool_choice: fly
                    expect: {tool: get_weather, arguments: {town: Paris, city: {range: [3]}}}
                  - id: a
                    messages: [{user: hi}]
                    expect: {}
                """, file: "broken.yaml", problems: problems)
        let paths = problems.problems.map(\.path)
        for expected in [
            "tools.get_weather.parameters", "cases[0].messages", "cases[0].tools[1]", "cases[0].tool_choice",
            "cases[0].expect.arguments.town", "cases[0].expect.arguments.city", "cases[1].id", "cases[1].expect.tool",
        ] {
            #expect(paths.contains(expected), "missing \(expected) in \(problems.problems.map(\.description))")
        }
        #expect(problems.problems.first { $0.path == "cases[0].tool_choice" }?.line == 10)
    }
}
