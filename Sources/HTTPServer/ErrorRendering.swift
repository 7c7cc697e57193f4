import Dialects
import Engine
import Hummingbird
import Logging
import SwitchboardCore

/// Renders errors that happen before the engine runs (unknown route, unreadable
/// body) in the dialect the route or headers suggest.
enum ErrorRendering {
    /// The dialect a request most likely speaks, so that even a route that
    /// does not exist answers in the shape of the API its path belongs to:
    /// Gemini under `/v1beta` or for a `{model}:{method}` path; Responses at
    /// `…/responses`; Anthropic at `/v1/messages…` or with `anthropic-version`;
    /// Gemini under `/v1/` when the client sends what Google's SDKs send
    /// (`x-goog-api-key`, `x-goog-api-client`, `?key=`); OpenAI otherwise.
    static func dialect(for request: Request) -> Dialect {
        let path = request.uri.path
        if path.hasPrefix("/v1beta/") || path == "/v1beta" { return .gemini }
        // Byte searches (`holdsBytes`): this runs for every response.
        if path.hasPrefix("/v1/models/"), path.holdsBytes(":"), request.method == .post { return .gemini }
        if path.hasSuffix("/responses") || path.holdsBytes("/responses/") { return .openAIResponses }
        if path.hasPrefix("/v1/messages") || request.headers.contains(HeaderNames.anthropicVersion) { return .anthropicMessages }
        // `/v1/…` is shared by OpenAI, Anthropic and (since google-genai 3) Gemini: the client's headers tell.
        if isGoogleClient(request), path.hasPrefix("/v1/") || path == "/v1" { return .gemini }
        return .openAIChat
    }

    /// The shape `GET /v1/models` and `GET /v1/models/{id}` answer in: by the
    /// client's headers alone (a model id may hold a colon).
    static func listingDialect(for request: Request) -> Dialect {
        if request.headers.contains(HeaderNames.anthropicVersion) { return .anthropicMessages }
        return isGoogleClient(request) ? .gemini : .openAIChat
    }

    /// Whether the request carries what Google's SDKs send.
    static func isGoogleClient(_ request: Request) -> Bool {
        request.headers.contains(HeaderNames.googAPIKey) || request.headers.contains(HeaderNames.googAPIClient)
            || request.uri.queryParameters["key"] != nil
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
    /// The routes served, to tell a wrong method (405) from a path nobody serves (404).
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        // Worked out once: every response asks (for the Anthropic request-id header), errors too.
        let dialect = ErrorRendering.dialect(for: request)
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status.code == 404 && !routes.methods(at: request.uri.path).isEmpty {
            let allowed = routes.methods(at: request.uri.path)
            response = ErrorRendering.response(
                GatewayError(
                    .methodNotAllowed, message: "This route takes \(allowed.map(\.rawValue).joined(separator: ", ")), not \(request.method.rawValue)."
                ),
                dialect: dialect, requestID: context.requestID)
            response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        } catch let error as HTTPError {
            let code: GatewayError.Code
            switch error.status.code {
            case 404: code = .routeNotFound
            case 405: code = .methodNotAllowed
            case 413: code = .bodyTooLarge
            case 400..<500: code = .invalidRequest
            default: code = .internalError
            }
            response = ErrorRendering.response(GatewayError(code), dialect: dialect, requestID: context.requestID)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(type(of: error))"])
            response = ErrorRendering.response(
                GatewayError(.internalError), dialect: dialect, requestID: context.requestID)
        }
        response.headers[HeaderNames.requestID] = context.requestID
        if dialect == .anthropicMessages {
            response.headers[HeaderNames.anthropicRequestID] = context.requestID
        }
        return response
    }
}
