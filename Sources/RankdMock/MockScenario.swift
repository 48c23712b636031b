import Logging
import ServiceLifecycle

/// Starting profiles and a schedule of changes, relative to the mock's start.
public struct MockScenario: Sendable {
    public struct Step: Sendable {
        public var atSeconds: Double
        public var provider: String
        public var profile: MockProfile

        public init(atSeconds: Double, provider: String, profile: MockProfile) {
            self.atSeconds = atSeconds
            self.provider = provider
            self.profile = profile
        }
    }

    public var providers: [String: MockProfile]
    public var steps: [Step]

    public init(providers: [String: MockProfile], steps: [Step] = []) {
        self.providers = providers
        self.steps = steps.sorted { $0.atSeconds < $1.atSeconds }
    }
}

/// Applies a scenario's steps to a running fleet at their times.
public struct MockScenarioService: Service {
    let fleet: MockFleet
    let steps: [MockScenario.Step]
    let logger: Logger

    public init(fleet: MockFleet, steps: [MockScenario.Step], logger: Logger) {
        self.fleet = fleet
        self.steps = steps
        self.logger = logger
    }

    public func run() async throws {
        let start = ContinuousClock.now
        for step in steps {
            let deadline = start + .milliseconds(Int64(step.atSeconds * 1_000))
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(until: deadline, clock: .continuous) })) != nil else {
                return
            }
            fleet.setProfile(step.provider, step.profile)
            logger.notice(
                "mock scenario step", metadata: ["provider": .string(step.provider), "at_seconds": .stringConvertible(step.atSeconds)])
        }
        // Stay up until shutdown, so a finished schedule does not end the group.
        try? await gracefulShutdown()
    }
}
