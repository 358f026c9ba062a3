import Foundation
import HardenTestSupport

/// A Registry API server that goes wrong in one way, for faults a real registry cannot be made
/// to show. It binds 127.0.0.1 port 0 and prints `port N`; `mode` says what goes wrong.
final class FaultyRegistry {
    let port: Int
    private let process: TestProcess
    var log: String { process.log }
    var host: String { "127.0.0.1:\(port)" }

    static func run<T>(mode: String, _ body: (FaultyRegistry) async throws -> T) async throws -> T {
        try await withScratchDirectory { directory in
            let file = directory.appendingPathComponent("registry.py")
            try script.write(to: file, atomically: true, encoding: .utf8)
            let process = try TestProcess("python3", [file.path, mode], logFile: directory.appendingPathComponent("log"))
            defer { process.stop() }
            guard let port = try await process.announcedPort() else { throw TestSetupError("the faulty registry did not start:\n\(process.log)") }
            return try await body(FaultyRegistry(port: port, process: process))
        }
    }

    private init(port: Int, process: TestProcess) {
        self.port = port
        self.process = process
    }

    static let script = """
        import hashlib, json, sys, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        MODE = sys.argv[1]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status, headers=(), body=b""):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            # "token": every API request needs a bearer token from /token, which logs the scopes asked.
            def challenged(self):
                if MODE != "token" or self.headers.get("Authorization") == "Bearer t":
                    return False
                realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
                self.answer(401, [("WWW-Authenticate", f'Bearer realm="{realm}",service="faulty"')])
                return True

            def do_GET(self):
                if self.path.startswith("/token"):
                    print("TOKEN", self.path, flush=True)
                    return self.answer(200, body=b'{"token":"t"}')
                self.answer(404)

            def do_HEAD(self):
                if MODE == "nochallenge":
                    return self.answer(401)
                if self.challenged():
                    return
                self.answer(404)

            def do_POST(self):
                print("POST", self.path, flush=True)
                if MODE == "nochallenge":
                    return self.answer(401)
                if self.challenged():
                    return
                if MODE == "token" and "mount=" in self.path:
                    return self.answer(201)
                if MODE == "upload404":
                    return self.answer(404, body=json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}).encode())
                self.answer(202, [("Location", "/v2/upload/1?state=abc")])

            def do_PATCH(self):
                print("PATCH", self.path, self.headers.get("Content-Range"), flush=True)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if MODE == "chunk416":
                    return self.answer(416, [("Range", "0-0")], json.dumps({"errors": [{"code": "BLOB_UPLOAD_INVALID", "message": "chunk out of order"}]}).encode())
                self.answer(202, [("Location", "/v2/upload/1?state=next"), ("Range", "0-" + self.headers.get("Content-Range", "0-0").split("-")[1])])

            def do_PUT(self):
                print("PUT", self.path, flush=True)
                if MODE == "stall":
                    time.sleep(3600)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.challenged():
                    return
                if MODE == "token" and "/manifests/" in self.path:
                    return self.answer(201, [("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())])
                if MODE == "redirect":
                    return self.answer(307, [("Location", "http://127.0.0.2:9/elsewhere" + self.path)])
                if MODE == "mismatch":
                    return self.answer(400, body=json.dumps({"errors": [{"code": "DIGEST_INVALID", "message": "provided digest did not match uploaded content"}]}).encode())
                self.answer(500)

            def log_message(self, format, *args):
                pass

        # "referrers": a registry of OCI 1.1 (in memory) that answers the referrers API, which
        # Debian's docker-registry 2.8 does not.
        class Referrers(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            blobs, manifests, uploads = {}, {}, 0
            answer = Handler.answer

            def parts(self):
                path = self.path.split("?")[0]
                head, _, rest = path[len("/v2/"):].partition("/blobs/")
                if rest or path.endswith("/blobs/uploads/"):
                    return head, "blobs", rest
                for kind in ("manifests", "referrers"):
                    head, _, rest = path[len("/v2/"):].partition(f"/{kind}/")
                    if rest:
                        return head, kind, rest
                return None, None, None

            def manifest(self, repository, reference):
                return Referrers.manifests.get((repository, reference))

            def do_HEAD(self):
                repository, kind, rest = self.parts()
                if kind == "blobs":
                    return self.answer(200 if rest in Referrers.blobs else 404)
                found = self.manifest(repository, rest) if kind == "manifests" else None
                if not found:
                    return self.answer(404)
                self.send_response(200)
                self.send_header("Content-Type", found[1])
                self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(found[0]).hexdigest())
                self.send_header("Content-Length", str(len(found[0])))
                self.end_headers()

            def do_GET(self):
                print("GET", self.path, flush=True)
                repository, kind, rest = self.parts()
                if kind == "referrers":
                    entries = []
                    for (repo, reference), (body, _) in sorted(Referrers.manifests.items()):
                        document = json.loads(body)
                        if repo != repository or not reference.startswith("sha256:"):
                            continue
                        if document.get("subject", {}).get("digest") == rest:
                            entry = {"mediaType": document["mediaType"], "digest": reference, "size": len(body)}
                            for field in ("artifactType", "annotations"):
                                if field in document:
                                    entry[field] = document[field]
                            entries.append(entry)
                    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
                    return self.answer(200, [("Content-Type", "application/vnd.oci.image.index.v1+json")], index)
                if kind == "blobs" and rest in Referrers.blobs:
                    return self.answer(200, [("Content-Type", "application/octet-stream")], Referrers.blobs[rest])
                found = self.manifest(repository, rest) if kind == "manifests" else None
                if not found:
                    return self.answer(404)
                self.answer(200, [("Content-Type", found[1]), ("Docker-Content-Digest", "sha256:" + hashlib.sha256(found[0]).hexdigest())], found[0])

            def do_POST(self):
                repository, _, _ = self.parts()
                Referrers.uploads += 1
                self.answer(202, [("Location", f"/v2/{repository}/blobs/uploads/{Referrers.uploads}")])

            def do_PUT(self):
                print("PUT", self.path, flush=True)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                repository, kind, rest = self.parts()
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                if kind == "blobs":
                    if self.path.split("digest=")[-1] != digest:
                        return self.answer(400)
                    Referrers.blobs[digest] = body
                    return self.answer(201)
                media_type = self.headers.get("Content-Type")
                Referrers.manifests[(repository, rest)] = (body, media_type)
                Referrers.manifests[(repository, digest)] = (body, media_type)
                headers = [("Docker-Content-Digest", digest)]
                subject = json.loads(body).get("subject")
                if subject:
                    headers.append(("OCI-Subject", subject["digest"]))
                self.answer(201, headers)

            def log_message(self, format, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Referrers if MODE == "referrers" else Handler)
        server.daemon_threads = True
        print(f"port {server.server_address[1]}", flush=True)
        server.serve_forever()
        """
}
