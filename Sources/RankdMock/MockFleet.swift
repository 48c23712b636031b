import Foundation
import RankdCore
import Synchronization

/// The simulated providers: a profile per provider slug (changeable at run time), the probe cases
/// the mock knows the answers to, and a seeded generator per provider for faults and jitter.
public final class MockFleet: Sendable {
    private let profiles: Mutex<[String: MockProfile]>
    private let seed: UInt64
    /// One generator per provider: with one shared generator, which requests of a provider drew a
    /// fault depended on how its requests interleaved with every other provider's, so how many of
    /// a provider's probes drew the demo's 25% fault changed from run to run (its demotion came
    /// anywhere from the 2nd epoch to after the 4th). Now a provider's n-th request draws the same
    /// numbers in every run.
    private let generators = Mutex<[String: SplitMix64]>([:])
    let casesByPrompt: [String: ProbeCase]
    private let served = Mutex<[String: Int]>([:])

    public init(profiles: [String: MockProfile], suites: [ProbeSuite], seed: UInt64 = 7) {
        self.profiles = Mutex(profiles)
        self.seed = seed
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

    /// A uniform number in 0..<1 from the provider's seeded generator.
    func uniform(for provider: String) -> Double {
        generators.withLock { generators in
            // FNV-1a of the slug: stable across runs (String's hashValue is seeded per process).
            let start = provider.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
            return generators[provider, default: SplitMix64(seed: seed ^ start)].uniform()
        }
    }

    func countRequest(_ provider: String) {
        served.withLock { $0[provider, default: 0] += 1 }
    }

    /// Requests served per provider since start.
    public var requestsServed: [String: Int] { served.withLock { $0 } }
}
