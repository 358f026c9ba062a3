import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A status, headers and body.
struct HTTPAnswer: Sendable {
    let status: Int
    /// Header values by lowercased name.
    let headers: [String: String]
    let body: Data

    func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }
}

/// URLSession, made to return a 401 with a Basic challenge instead of handling it.
///
/// swift-corelibs-foundation 6.3.1 leaves such a request hanging, past its timeout, when no delegate supplies
/// credentials (swift-corelibs-foundation#5456); cancelling the challenge ends it, but without the response.
/// So challenges are cancelled, and a cancellation the caller did not ask for is answered as that 401.
final class HTTPTransport: Sendable {
    private let session: URLSession

    init(timeoutSeconds: Double) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        session = URLSession(configuration: configuration, delegate: ChallengeDecliner(), delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    func send(_ request: URLRequest) async throws(URLError) -> HTTPAnswer {
        do {
            let (body, response) = try await session.data(for: request)
            guard let response = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
            var headers: [String: String] = [:]
            for case (let name as String, let value as String) in response.allHeaderFields {
                headers[name.lowercased()] = value
            }
            return HTTPAnswer(status: response.statusCode, headers: headers, body: body)
        } catch let error as URLError where error.code == .cancelled && !Task.isCancelled {
            return HTTPAnswer(status: 401, headers: ["www-authenticate": "Basic"], body: Data())
        } catch let error as URLError {
            throw error
        } catch {
            throw URLError(.unknown, userInfo: [NSUnderlyingErrorKey: error])
        }
    }
}

/// Cancels HTTP authentication challenges (Basic, Digest) so the request ends; lets the session handle the rest (TLS).
private final class ChallengeDecliner: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        let method = challenge.protectionSpace.authenticationMethod
        let httpAuthentication = method == NSURLAuthenticationMethodHTTPBasic || method == NSURLAuthenticationMethodHTTPDigest
        completionHandler(httpAuthentication ? .cancelAuthenticationChallenge : .performDefaultHandling, nil)
    }
}
