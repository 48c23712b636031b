import RankdCore

/// Runs `action` every `seconds` of `clock`'s time until the task is cancelled, with the count of
/// runs so far (1 the first time). The daemon's periodic work (epochs, flushes and folds, outlier
/// checks, override expiry, dedupe pruning) runs on it; tests drive it with a manual clock.
func repeatEvery(_ seconds: Double, clock: any WallClock, _ action: @Sendable (_ tick: Int) async -> Void) async {
    var tick = 0
    while !Task.isCancelled {
        do { try await clock.sleep(seconds: seconds) } catch { return }
        tick += 1
        await action(tick)
    }
}
