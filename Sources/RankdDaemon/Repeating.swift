/// Runs `action` every `seconds` until the task is cancelled, with the count of runs so far
/// (1 the first time). The daemon's periodic work (epochs, flushes and folds, outlier checks,
/// override expiry, dedupe pruning) runs on it.
func repeatEvery(_ seconds: Double, _ action: @Sendable (_ tick: Int) async -> Void) async {
    var tick = 0
    while !Task.isCancelled {
        do { try await Task.sleep(for: .seconds(seconds)) } catch { return }
        tick += 1
        await action(tick)
    }
}
