import Dialects
import Engine
import Hummingbird
import SwitchboardCore

/// Renders errors that happen before the engine runs (unknown route, unreadable
/// body) in the dialect the route or headers suggest.
enum ErrorRendering {
    /// The dialect a request most likely speaks: Gemini under `/v1beta`, Responses
    /// at `…/responses`, Anthropic when it targets `/v1/messages` or carries
    /// `anthropic-version`, OpenAI Chat otherwise.
    static func dialect(for request: Request) -> Dialect {
        if request.uri.path.hasPrefix("/v1beta/") || request.uri.path == "/v1beta" { return .gemini }
        if request.uri.path.hasSuffix("/responses") { return .openAIResponses }
        if request.uri.path.hasPrefix("/v1/messages") || request.headers[HeaderNames.anthropicVersion] != nil {
            return .anthropicMessages
        }
        return .openAIChat
    }

    /// A complete error response.
    static func response(_ error: GatewayError, dialect: Dialect, requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retry = error.retryAfterSeconds { headers[HeaderNames.retryAfter] = String(retry) }
        if error.code == .bodyTooLarge { headers[.connection] = "close" }
        return Response(
            status: .init(code: error.status), headers: headers,
            body: .init(byteBuffer: ErrorBody.json(error, dialect: dialect, requestID: requestID)))
    }
}

/// Puts the request id on every response and turns any error that escapes a
/// handler into a body in the client's format; nothing leaves as a bare 500.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            let code: GatewayError.Code
            switch error.status.code {
            case 404: code = .routeNotFound
            case 405: code = .methodNotAllowed
            case 413: code = .bodyTooLarge
            case 400..<500: code = .invalidRequest
            default: code = .internalError
            }
            response = ErrorRendering.response(GatewayError(code), dialect: ErrorRendering.dialect(for: request), requestID: context.requestID)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(type(of: error))"])
            response = ErrorRendering.response(GatewayError(.internalError), dialect: ErrorRendering.dialect(for: request), requestID: context.requestID)
        }
        response.headers[HeaderNames.requestID] = context.requestID
        if ErrorRendering.dialect(for: request) == .anthropicMessages {
            response.headers[HeaderNames.anthropicRequestID] = context.requestID
        }
        return response
    }
}
