import Foundation
import RankdCore
import Testing

/// `ComponentValues` stands where `[String: Double]` stood: the same reads, the same JSON.
@Suite struct ComponentValuesTests {
    static let subsets: [[Component: Double]] = [
        [:],
        [.latency: 0.25],
        [.toolCallSuccess: 1, .benchmark: 0],
        [.toolCallSuccess: 0.875, .reliability: 0.5, .throughput: 0.125, .latency: 0.0625, .benchmark: 0.03125],
    ]

    @Test(arguments: subsets)
    func readsAndJSONAreTheDictionarys(values: [Component: Double]) throws {
        let dictionary = Dictionary(uniqueKeysWithValues: values.map { ($0.key.rawValue, $0.value) })
        let compact = ComponentValues(values)
        #expect(compact.dictionary == dictionary)
        #expect(compact.count == dictionary.count)
        #expect(compact.isEmpty == dictionary.isEmpty)
        #expect(compact.keys == dictionary.keys.sorted())
        #expect(compact.values == dictionary.keys.sorted().map { dictionary[$0]! })
        for component in Component.allCases {
            #expect(compact[component] == values[component])
            #expect(compact[component.rawValue] == dictionary[component.rawValue])
        }
        #expect(compact["not_a_component"] == nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        #expect(try encoder.encode(compact) == encoder.encode(dictionary))
        #expect(try JSONDecoder().decode(ComponentValues.self, from: encoder.encode(dictionary)) == compact)
    }

    @Test func removingAValueMakesItEqualToOneNeverSet() {
        var values: ComponentValues = ["latency": 0.5, "reliability": 0.75]
        values[.latency] = nil
        #expect(values == ["reliability": 0.75])
        #expect(values.hashValue == ComponentValues([.reliability: 0.75]).hashValue)
    }

    @Test func unknownNameInJSONIsRefusedWithTheNamesExpected() {
        #expect {
            try JSONDecoder().decode(ComponentValues.self, from: Data(#"{"latency": 0.5, "speed": 1}"#.utf8))
        } throws: { error in
            "\(error)".contains("unknown component speed") && "\(error)".contains("tool_call_success")
        }
    }
}
