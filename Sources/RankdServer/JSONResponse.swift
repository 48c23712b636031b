import Foundation
import HTTPTypes
import Hummingbird
import RankdCore

/// Small helpers so handlers stay one line: JSON bodies and errors that say what to do.
enum JSONResponse {
    static func ok(_ data: Data, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func encode<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? EpochJSON.encoder.encode(value)) ?? Data("{}".utf8)
        var response = ok(data)
        response.status = status
        return response
    }

    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    static func error(_ status: HTTPResponse.Status, code: String, _ message: String) -> Response {
        encode(ErrorBody(error: .init(code: code, message: message)), status: status)
    }

    struct FieldProblem: Encodable {
        var field: String
        var message: String
    }

    struct Invalid: Encodable {
        var error: ErrorBody.Detail
        var fields: [FieldProblem]
    }

    /// 400 naming every field that is wrong and how to fix it.
    static func invalid(_ problems: RouteRequestParser.FieldErrors) -> Response {
        encode(
            Invalid(
                error: .init(code: "invalid_request", message: problems.errors.map(\.description).joined(separator: "; ")),
                fields: problems.errors.map { FieldProblem(field: $0.field, message: $0.message) }),
            status: .badRequest)
    }
}
