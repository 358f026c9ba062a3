import Foundation
import HardenTestSupport

/// A Python 3 HTTP server script run for a test. The script binds 127.0.0.1 port 0 and prints `port N`.
final class PythonServer {
    let port: Int
    private let process: TestProcess

    /// The server's output after the `port` line.
    var log: String { process.log }

    /// Writes `script` to a temporary directory, starts it with `arguments`, runs `body`, and stops it whatever happens.
    static func run<T>(
        script: String, arguments: [String] = [], _ body: (PythonServer) async throws -> T
    ) async throws -> T {
        try await withScratchDirectory { directory in
            let file = directory.appendingPathComponent("server.py")
            try script.write(to: file, atomically: true, encoding: .utf8)
            let process = try TestProcess(
                "python3", [file.path] + arguments, logFile: directory.appendingPathComponent("server.log"))
            defer { process.stop() }
            guard let port = try await process.announcedPort() else { throw TestSetupError("\(file.path) did not start:\n\(process.log)") }
            return try await body(PythonServer(port: port, process: process))
        }
    }

    private init(port: Int, process: TestProcess) {
        self.port = port
        self.process = process
    }
}

/// Answers every HEAD with 200 and no Docker-Content-Digest header: a registry fault a real one cannot show.
let digestlessServerScript = """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
    """

/// Accepts connections and never answers: a registry that hangs.
let silentServerScript = """
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    print(f"port {server.getsockname()[1]}", flush=True)
    held = []
    while True:
        held.append(server.accept()[0])
    """

/// Asks for a token, then sends the token's head and 5 of its 100 bytes and stalls.
let stallingTokenServerScript = """
    import socket, threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    print(f"port {port}", flush=True)
    held = []

    def answer(client):
        request = client.recv(65536).decode()
        if request.startswith("HEAD"):
            client.sendall((
                "HTTP/1.1 401 Unauthorized\\r\\n"
                f'WWW-Authenticate: Bearer realm="http://127.0.0.1:{port}/token",service="demo"\\r\\n'
                "Content-Length: 0\\r\\n\\r\\n").encode())
        else:
            client.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: 100\\r\\n\\r\\n{\\"to")
        held.append(client)

    while True:
        client = server.accept()[0]
        threading.Thread(target=answer, args=(client,), daemon=True).start()
    """
