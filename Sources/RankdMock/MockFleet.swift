import Foundation
import RankdCore
import Synchronization

/// The simulated providers: a profile per provider slug (changeable at run time), the probe cases
/// the mock knows the answers to, and a seeded generator for faults and jitter.
public final class MockFleet: Sendable {
    private let profiles: Mutex<[String: MockProfile]>
    private let generator: Mutex<SplitMix64>
    let casesByPrompt: [String: ProbeCase]
    private let served = Mutex<[String: Int]>([:])

    public init(profiles: [String: MockProfile], suites: [ProbeSuite], seed: UInt64 = 7) {
        self.profiles = Mutex(profiles)
        generator = Mutex(SplitMix64(seed: seed))
        var byPrompt: [String: ProbeCase] = [:]
        for probe in suites.flatMap(\.cases) {
            if let prompt = probe.messages.last(where: { $0.role == "user" })?.content { byPrompt[prompt] = probe }
        }
        casesByPrompt = byPrompt
    }

    public func profile(_ provider: String) -> MockProfile? { profiles.withLock { $0[provider] } }

    public var allProfiles: [String: MockProfile] { profiles.withLock { $0 } }

    public func setProfile(_ provider: String, _ profile: MockProfile) {
        profiles.withLock { $0[provider] = profile }
    }

    /// A uniform number in 0..<1 from the shared seeded generator.
    func uniform() -> Double {
        generator.withLock { $0.uniform() }
    }

    func countRequest(_ provider: String) {
        served.withLock { $0[provider, default: 0] += 1 }
    }

    /// Requests served per provider since start.
    public var requestsServed: [String: Int] { served.withLock { $0 } }
}
