import Foundation
import HTTPTypes
import Hummingbird

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
}
