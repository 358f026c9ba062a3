"""A minimal Flask service with / and /health, for a distroless runtime."""

import os

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(service="flask-distroless", message="hello from a hardened image")


@app.get("/health")
def health():
    return jsonify(status="ok")


if __name__ == "__main__":
    # Run directly, the app listens on loopback only; the image sets 0.0.0.0.
    host = os.environ.get("FLASK_RUN_HOST", "127.0.0.1")
    port = int(os.environ.get("FLASK_RUN_PORT", "8080"))
    app.run(host=host, port=port)
