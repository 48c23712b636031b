import Logging
import RankdCore
import ServiceLifecycle

/// Simulated request telemetry for `rankd demo`: every tick each profile contributes requests with
/// jittered timings and failures drawn from a seeded generator, fed to the ranker like any other
/// signal source. It stands in for real traffic only in the demo.
public struct DemoTraffic: Service {
    let ranker: Ranker
    let clock: any WallClock
    let profiles: [DemoFleet.Profile]
    let faultAfterSeconds: Double
    let tickSeconds: Double
    let seed: UInt64
    let logger: Logger

    public init(
        ranker: Ranker, clock: any WallClock, profiles: [DemoFleet.Profile] = DemoFleet.profiles(), faultAfterSeconds: Double,
        tickSeconds: Double = 0.5, seed: UInt64 = 42, logger: Logger
    ) {
        self.ranker = ranker
        self.clock = clock
        self.profiles = profiles
        self.faultAfterSeconds = faultAfterSeconds
        self.tickSeconds = tickSeconds
        self.seed = seed
        self.logger = logger
    }

    public func run() async throws {
        var generator = SplitMix64(seed: seed)
        let start = clock.now()
        var faultAnnounced = false
        var carry = [Double](repeating: 0, count: profiles.count)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = clock.now()
            let faulty = now.seconds(since: start) >= faultAfterSeconds
            if faulty && !faultAnnounced {
                faultAnnounced = true
                logger.notice("demo fault starts: swiftinfer now breaks about a third of its tool calls")
            }
            var batch: [Observation] = []
            for (index, profile) in profiles.enumerated() {
                carry[index] += profile.requestsPerSecond * tickSeconds
                let count = Int(carry[index])
                carry[index] -= Double(count)
                let toolFailureRate = faulty ? (profile.toolFailureRateAfterFault ?? profile.toolFailureRate) : profile.toolFailureRate
                for _ in 0..<count {
                    batch.append(Self.observation(profile, toolFailureRate: toolFailureRate, at: now, using: &generator))
                }
            }
            await ranker.record(batch)
            try? await Task.sleep(for: .seconds(tickSeconds))
        }
    }

    static func observation(_ profile: DemoFleet.Profile, toolFailureRate: Double, at now: Timestamp, using generator: inout SplitMix64)
        -> Observation
    {
        let draw = Double.random(in: 0..<1, using: &generator)
        let outcome: Outcome
        if draw < profile.errorRate {
            outcome = [.http5xx, .timeout, .http429].randomElement(using: &generator)!
        } else if draw < profile.errorRate + toolFailureRate {
            outcome = [.malformedArgs, .schemaViolation, .wrongTool, .wrongValue].randomElement(using: &generator)!
        } else {
            outcome = .ok
        }
        let answered = outcome == .ok || outcome.isToolCallFailure
        let jitter = Double.random(in: 0.75...1.35, using: &generator)
        return Observation(
            endpointID: profile.endpointID, time: now, source: .live, outcome: outcome, toolsOffered: true,
            ttftMilliseconds: answered ? profile.ttftMilliseconds * jitter : nil,
            latencyMilliseconds: answered ? profile.ttftMilliseconds * jitter + 1_500 : nil,
            outputTokensPerSecond: answered ? profile.tokensPerSecond / jitter : nil)
    }
}
