import Hummingbird

/// Counts and times every request by matched route (not raw path, to keep label cardinality bounded).
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RankdMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.httpRequest(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
                duration: ContinuousClock.now - start)
            return response
        } catch let error as any HTTPResponseError {
            metrics.httpRequest(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: error.status.code,
                duration: ContinuousClock.now - start)
            throw error
        } catch {
            metrics.httpRequest(
                route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: 500,
                duration: ContinuousClock.now - start)
            throw error
        }
    }
}
