import Logging
import RankdCore
import RankdServer
import ServiceLifecycle

/// The epoch loop: one epoch at start, then one every interval and whenever the fast path asks.
/// Probe minute buckets are written to `state.db` every `flushIntervalSeconds` in between, so a
/// crash loses seconds of probe observations, not an epoch's worth. The live journal (already
/// durable) is folded into the minute buckets every `foldIntervalSeconds`: each fold rewrites
/// every bucket the journal touches, so at 20,000 busy endpoints a fold every 10 s rewrote each
/// bucket six times a minute and took 15% of the daemon's CPU (`perf record`, stop 20). On
/// graceful shutdown it finishes the epoch in progress, flushes buckets and returns.
public struct EpochService: Service {
    let ranker: Ranker
    let intervalSeconds: Double
    let flushIntervalSeconds: Double
    let foldIntervalSeconds: Double
    let logger: Logger

    let outlierCheckSeconds: Double

    public init(ranker: Ranker, intervalSeconds: Double, flushIntervalSeconds: Double = 10, foldIntervalSeconds: Double = 60, outlierCheckSeconds: Double = 0, logger: Logger)
    {
        self.outlierCheckSeconds = outlierCheckSeconds
        self.ranker = ranker
        self.intervalSeconds = intervalSeconds
        self.flushIntervalSeconds = flushIntervalSeconds
        self.foldIntervalSeconds = foldIntervalSeconds
        self.logger = logger
    }

    public func run() async throws {
        // The windows first (start-up served the last epoch without waiting for them); on a
        // storage error the first epoch retries and reports it.
        do {
            try await ranker.rebuildWindows()
        } catch {
            logger.error("could not rebuild the windows from state.db", metadata: ["error": .string("\(error)")])
        }
        await compute(.startup)
        await withDiscardingTaskGroup { group in
            let ranker = self.ranker
            let logger = self.logger
            group.addTask { await repeatEvery(intervalSeconds) { _ in ranker.requestEpoch(.scheduled) } }
            // Failure outliers between epochs (live traffic breaking tool calls shows within seconds).
            if outlierCheckSeconds > 0 {
                group.addTask { await repeatEvery(outlierCheckSeconds) { _ in await ranker.checkOutliersBetweenEpochs() } }
            }
            // An override ends at its expiry, not at the next scheduled epoch.
            group.addTask {
                await repeatEvery(1) { _ in if await ranker.overrideExpiryDue() { ranker.requestEpoch(.override) } }
            }
            // Flush every flush interval; fold the journal at every foldEvery-th flush.
            let foldEvery = max(1, Int((foldIntervalSeconds / flushIntervalSeconds).rounded()))
            group.addTask {
                await repeatEvery(flushIntervalSeconds) { tick in
                    do {
                        try await ranker.flush()
                        if tick % foldEvery == 0 { try await ranker.foldJournal() }
                        ranker.holder.storage.succeeded("buckets")
                    } catch {
                        // Kept in memory and written at the next flush that succeeds.
                        logger.error("could not write minute buckets", metadata: ["error": .string("\(error)")])
                        ranker.holder.storage.failed("buckets", error)
                    }
                }
            }
            for await trigger in ranker.triggers.cancelOnGracefulShutdown() {
                await compute(trigger)
            }
            group.cancelAll()
        }
        do {
            // Not cancelled with this task: at a graceful shutdown the service's task is
            // cancelled, and GRDB's async write of the journal fold refuses a cancelled task
            // (CancellationError): every shutdown logged an error and left the fold to the next start.
            let ranker = self.ranker
            try await Task.detached {
                try await ranker.flush()
                try await ranker.foldJournal()
            }.value
        } catch {
            logger.error("could not flush minute buckets at shutdown", metadata: ["error": .string("\(error)")])
        }
        logger.info("epoch loop stopped")
    }

    private func compute(_ trigger: EpochTrigger) async {
        // A failed epoch is logged and counted by the ranker; the previous one keeps being served.
        _ = try? await ranker.computeAndPublish(trigger)
    }
}
