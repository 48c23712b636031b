/// Values by component name (each in 0...1), for the five components of `Component`: what an
/// entry's `components` and its explanation's `weights`, `shortWindow` and `longWindow` hold.
///
/// Stored inline, five doubles and a mask of which are present, instead of as `[String: Double]`:
/// an epoch holds four of these per endpoint, and as dictionaries they were four heap blocks each
/// (much of an epoch's memory, held twice while an epoch is published), and building them was
/// most of what remained of an epoch's compute time. Reads,
/// iteration and JSON are a dictionary's: keys are the components' names, in sorted order.
public struct ComponentValues: Hashable, Sendable {
    // Slots in the sorted order of the names (benchmark, latency, reliability, throughput,
    // tool_call_success), so iterating the slots is iterating the sorted keys.
    private var benchmark = 0.0
    private var latency = 0.0
    private var reliability = 0.0
    private var throughput = 0.0
    private var toolCallSuccess = 0.0
    /// Bit `slot` set when that slot holds a value; an absent slot holds 0, so equal values are
    /// equal structs.
    private var present: UInt8 = 0

    /// Components in the sorted order of their names.
    public static let sortedComponents = Component.allCases.sorted { $0.rawValue < $1.rawValue }

    private static func slot(_ component: Component) -> Int {
        switch component {
        case .benchmark: 0
        case .latency: 1
        case .reliability: 2
        case .throughput: 3
        case .toolCallSuccess: 4
        }
    }

    public init() {}

    public init(_ values: [Component: Double]) {
        for (component, value) in values { self[component] = value }
    }

    public subscript(component: Component) -> Double? {
        get {
            let slot = Self.slot(component)
            guard present & (1 << slot) != 0 else { return nil }
            return value(atSlot: slot)
        }
        set {
            let slot = Self.slot(component)
            if let newValue {
                present |= 1 << slot
                setValue(newValue, atSlot: slot)
            } else {
                present &= ~(1 << slot)
                setValue(0, atSlot: slot)
            }
        }
    }

    /// The value of the component named `name` (nil for an absent or unknown name).
    public subscript(name: String) -> Double? {
        Component(rawValue: name).flatMap { self[$0] }
    }

    private func value(atSlot slot: Int) -> Double {
        switch slot {
        case 0: benchmark
        case 1: latency
        case 2: reliability
        case 3: throughput
        default: toolCallSuccess
        }
    }

    private mutating func setValue(_ value: Double, atSlot slot: Int) {
        switch slot {
        case 0: benchmark = value
        case 1: latency = value
        case 2: reliability = value
        case 3: throughput = value
        default: toolCallSuccess = value
        }
    }

    public var isEmpty: Bool { present == 0 }
    public var count: Int { present.nonzeroBitCount }

    /// Names of the components present, sorted.
    public var keys: [String] { map(\.key) }
    /// Values of the components present, in the order of `keys`.
    public var values: [Double] { map(\.value) }

    /// The same values as a dictionary by name.
    public var dictionary: [String: Double] {
        Dictionary(uniqueKeysWithValues: map { ($0.key, $0.value) })
    }

    public func mapValues(_ transform: (Double) throws -> Double) rethrows -> [String: Double] {
        try dictionary.mapValues(transform)
    }
}

extension ComponentValues: Sequence {
    /// (name, value) pairs of the components present, sorted by name.
    public func makeIterator() -> IndexingIterator<[(key: String, value: Double)]> {
        var pairs: [(key: String, value: Double)] = []
        pairs.reserveCapacity(count)
        for (slot, component) in Self.sortedComponents.enumerated() where present & (1 << slot) != 0 {
            pairs.append((component.rawValue, value(atSlot: slot)))
        }
        return pairs.makeIterator()
    }
}

extension ComponentValues: ExpressibleByDictionaryLiteral {
    public typealias Key = String
    public typealias Value = Double

    /// For fixed values in code and tests; every key must be a component's name.
    public init(dictionaryLiteral elements: (String, Double)...) {
        for (name, value) in elements {
            guard let component = Component(rawValue: name) else { preconditionFailure("\(name) is not a component") }
            self[component] = value
        }
    }
}

/// A JSON object by component name, as `[String: Double]` was, with the names in sorted order.
extension ComponentValues: Codable {
    struct NameKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: NameKey.self)
        for key in container.allKeys {
            guard let component = Component(rawValue: key.stringValue) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container,
                    debugDescription: "unknown component \(key.stringValue); expected one of \(Component.allCases.map(\.rawValue))")
            }
            self[component] = try container.decode(Double.self, forKey: key)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: NameKey.self)
        for (name, value) in self { try container.encode(value, forKey: NameKey(stringValue: name)) }
    }
}
