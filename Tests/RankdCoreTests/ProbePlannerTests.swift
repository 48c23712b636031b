import RankdCore
import RankdTestKit
import Testing

@Suite struct ProbePlannerTests {
    let start = Timestamp(secondsSince1970: 1_767_225_600)

    func planner(_ configure: (inout Policy.Probing) -> Void = { _ in }, ids: [String] = ["a"]) -> ProbePlanner {
        var rule = Policy.Probing()
        rule.jitter = 0
        configure(&rule)
        return ProbePlanner(rule: rule, endpointIDs: ids, now: start, seed: 1)
    }

    @Test func healthyEndpointsAreProbedEveryIntervalAndSuspiciousOnesSooner() {
        var plan = planner()
        #expect(plan.takeDue(now: start, limit: 8).map(\.endpointID) == ["a"])
        #expect(plan.takeDue(now: start, limit: 8).isEmpty, "in flight")
        plan.finished("a", now: start, failed: false, demoted: false, retryAfterSeconds: nil, costUSD: 0)
        #expect(plan.nextDue("a") == start.adding(seconds: 60))
        #expect(plan.hold("a", now: start.adding(seconds: 59)) == .notDue)
        _ = plan.takeDue(now: start.adding(seconds: 60), limit: 8)
        plan.finished("a", now: start.adding(seconds: 60), failed: true, demoted: false, retryAfterSeconds: nil, costUSD: 0)
        #expect(plan.nextDue("a") == start.adding(seconds: 75))
    }

    @Test func retryAfterIsHonoured() {
        var plan = planner()
        _ = plan.takeDue(now: start, limit: 8)
        plan.finished("a", now: start, failed: true, demoted: false, retryAfterSeconds: 120, costUSD: 0)
        #expect(plan.nextDue("a") == start.adding(seconds: 120))
        #expect(plan.takeDue(now: start.adding(seconds: 119), limit: 8).isEmpty)
        #expect(plan.takeDue(now: start.adding(seconds: 120), limit: 8).count == 1)
    }

    @Test func rateCapAndConcurrencyLimit() {
        var plan = planner(
            {
                $0.intervalSeconds = 1; $0.suspiciousIntervalSeconds = 1; $0.maxPerMinute = 3
            }, ids: ["a", "b", "c"])
        #expect(plan.takeDue(now: start.adding(seconds: 1), limit: 2).count == 2, "concurrency limit")
        var starts = 0
        var now = start.adding(seconds: 2)
        for _ in 0..<30 {
            for (id, _) in plan.takeDue(now: now, limit: 8) where id == "a" {
                starts += 1
            }
            for id in ["a", "b", "c"] { plan.finished(id, now: now, failed: false, demoted: false, retryAfterSeconds: nil, costUSD: 0) }
            now = now.adding(seconds: 1)
        }
        // One start before the loop plus two in it: the cap of 3 a minute, though due every second.
        #expect(starts == 2, "a started \(starts) more times in 30 s")
        #expect(plan.hold("a", now: now) == .rateCap)
    }

    @Test func dailyBudgetPausesUntilTheNextUTCDay() {
        var plan = planner({
            $0.intervalSeconds = 1; $0.dailyBudgetUSD = 0.01
        })
        var now = Timestamp(secondsSince1970: 1_767_225_600 + 3_600)
        var started = 0
        for _ in 0..<20 {
            started += plan.takeDue(now: now, limit: 8).count
            plan.finished("a", now: now, failed: false, demoted: false, retryAfterSeconds: nil, costUSD: 0.004)
            now = now.adding(seconds: 2)
        }
        #expect(started == 3, "0.004 USD a probe, 0.01 USD a day")
        #expect(plan.hold("a", now: now) == .budgetSpent)
        #expect(plan.hold("a", now: Timestamp(secondsSince1970: 1_767_225_600 + 86_400)) == nil, "a new UTC day")
    }

    @Test func demotedEndpointsAreProbedAtTheSuspiciousInterval() {
        var plan = planner()
        _ = plan.takeDue(now: start, limit: 8)
        plan.finished("a", now: start, failed: false, demoted: false, retryAfterSeconds: nil, costUSD: 0)
        plan.markDemoted("a", now: start.adding(seconds: 1))
        #expect(plan.nextDue("a") == start.adding(seconds: 16))
    }

    @Test func jitterStaysWithinItsBounds() {
        var plan = planner({ $0.jitter = 0.1 })
        var now = start
        for _ in 0..<50 {
            _ = plan.takeDue(now: now, limit: 8)
            plan.finished("a", now: now, failed: false, demoted: false, retryAfterSeconds: nil, costUSD: 0)
            let wait = plan.nextDue("a")!.seconds(since: now)
            #expect(wait >= 54 && wait <= 66)
            now = plan.nextDue("a")!
        }
    }

    @Test func costComesFromTheEndpointsPrices() {
        let cost = ProbePlanner.cost(
            promptTokens: 1_000, completionTokens: 500,
            pricing: Pricing(promptPerMillionTokensUSD: 2, completionPerMillionTokensUSD: 10, perRequestUSD: 0.001))
        #expect(abs(cost - (0.002 + 0.005 + 0.001)) < 1e-12)
    }
}
