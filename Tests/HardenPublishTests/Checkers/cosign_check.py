"""Independent checks of what harden attaches to an image, written against the specs
(cosign's BUNDLE_SPEC.md and SIGNATURE_SPEC.md, the OCI distribution spec's referrers and the
referrers tag schema, DSSE v1) with code nobody on the harden team wrote: the Sigstore bundle is
parsed by sigstore-protobuf-specs, signatures are checked by PyCA cryptography, DSSE envelopes
also by securesystemslib and in-toto.

Usage:
  cosign_check.py bundles URL REPO DIGEST PUBKEY   -> JSON list of verified statements
  cosign_check.py legacy URL REPO DIGEST PUBKEY    -> JSON list of verified .sig payloads
  cosign_check.py attestations URL REPO DIGEST PUBKEY  -> JSON list of verified .att statements
  cosign_check.py sign URL REPO DIGEST KEYDIR [SIGNED_DIGEST]
      makes a key pair in KEYDIR, signs an in-toto statement naming SIGNED_DIGEST (default
      DIGEST) as cosign 3 would, and lists it in the sha256-<hex> tag index of DIGEST.
Exit 1 with a message when anything does not verify.
"""
import base64
import copy
import hashlib
import json
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore_protobuf_specs.dev.sigstore.bundle.v1 import Bundle
from securesystemslib.dsse import Envelope as SSlibEnvelope
from securesystemslib.signer import SSlibKey
from in_toto.models.metadata import Envelope as InTotoEnvelope

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, "", error.read()


def put(url, body, content_type):
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201, answer.status


def upload(base, repo, body):
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    request = urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(request) as answer:
        location = answer.headers["Location"]
    if location.startswith("/"):
        location = base + location
    separator = "&" if "?" in location else "?"
    put(f"{location}{separator}digest={digest}", body, "application/octet-stream")
    return digest


def blob(base, repo, digest):
    status, _, body = get(f"{base}/v2/{repo}/blobs/{digest}")
    if status != 200 or "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        fail(f"blob {digest}: HTTP {status} or wrong digest")
    return body


def referrers(base, repo, digest):
    """The referrers API, else the referrers tag schema."""
    status, content_type, body = get(f"{base}/v2/{repo}/referrers/{digest}", INDEX)
    if status == 200 and content_type.startswith(INDEX):
        return json.loads(body)["manifests"]
    status, _, body = get(f"{base}/v2/{repo}/manifests/{digest.replace(':', '-')}", INDEX)
    if status == 404:
        return []
    return json.loads(body)["manifests"]


def pae(payload_type, payload):
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)


def check_statement(payload, digest):
    statement = json.loads(payload)
    if statement["_type"] != "https://in-toto.io/Statement/v1":
        fail(f"not an in-toto statement v1: {statement['_type']}")
    if not any(s["digest"].get("sha256") == digest.split(":")[1] for s in statement["subject"]):
        fail(f"the statement's subjects {statement['subject']} do not name {digest}")
    return statement


def check_envelope_independently(envelope_dict, pem):
    """securesystemslib and in-toto each verify the DSSE envelope with the key."""
    key = SSlibKey(keyid="", keytype="ecdsa", scheme="ecdsa-sha2-nistp256", keyval={"public": pem.decode()})
    # from_dict rewrites the dict it is given: each reads its own copy.
    SSlibEnvelope.from_dict(copy.deepcopy(envelope_dict)).verify([key], 1)
    InTotoEnvelope.from_dict(copy.deepcopy(envelope_dict)).verify([key], 1)


def bundles(base, repo, digest, pubkey):
    pem = open(pubkey, "rb").read()
    public = serialization.load_pem_public_key(pem)
    found = []
    for entry in referrers(base, repo, digest):
        if entry.get("artifactType") != BUNDLE:
            continue
        status, _, raw = get(f"{base}/v2/{repo}/manifests/{entry['digest']}", MANIFEST)
        if status != 200 or "sha256:" + hashlib.sha256(raw).hexdigest() != entry["digest"]:
            fail(f"referrer {entry['digest']}: HTTP {status} or wrong digest")
        manifest = json.loads(raw)
        if manifest["artifactType"] != BUNDLE or manifest["subject"]["digest"] != digest:
            fail(f"referrer {entry['digest']}: artifactType or subject wrong")
        if manifest["config"]["mediaType"] != "application/vnd.oci.empty.v1+json" or len(manifest["layers"]) != 1:
            fail(f"referrer {entry['digest']}: not the empty config and one layer")
        layer = manifest["layers"][0]
        hexdigest = digest.split(":")[1]
        if layer["annotations"]["org.opencontainers.image.title"] != f"sha256-{hexdigest}.sigstore.json":
            fail("the bundle layer's title is not sha256-<hex>.sigstore.json")
        bundle = Bundle.from_dict(json.loads(blob(base, repo, layer["digest"])))
        if bundle.media_type != BUNDLE:
            fail(f"bundle media type {bundle.media_type}")
        expected_hint = base64.b64encode(
            hashlib.sha256(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
        ).decode()
        if bundle.verification_material.public_key.hint != expected_hint:
            fail("the bundle's public key hint is not the key's")
        envelope = bundle.dsse_envelope
        public.verify(envelope.signatures[0].sig, pae(envelope.payload_type, envelope.payload), ec.ECDSA(hashes.SHA256()))
        check_envelope_independently(
            {
                "payload": base64.b64encode(envelope.payload).decode(),
                "payloadType": envelope.payload_type,
                "signatures": [{"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in envelope.signatures],
            },
            pem,
        )
        statement = check_statement(envelope.payload, digest)
        annotations = manifest.get("annotations", {})
        if annotations.get("dev.sigstore.bundle.predicateType") != statement["predicateType"]:
            fail("the manifest's predicateType annotation is not the statement's")
        if annotations.get("dev.sigstore.bundle.content") != "dsse-envelope" or "org.opencontainers.image.created" not in annotations:
            fail("bundle annotations missing")
        found.append({"predicateType": statement["predicateType"], "predicate": statement["predicate"]})
    return found


def legacy(base, repo, digest, pubkey):
    public = serialization.load_pem_public_key(open(pubkey, "rb").read())
    tag = digest.replace(":", "-") + ".sig"
    status, _, raw = get(f"{base}/v2/{repo}/manifests/{tag}", MANIFEST)
    if status != 200:
        fail(f"no {tag} tag (HTTP {status})")
    found = []
    for layer in json.loads(raw)["layers"]:
        if layer["mediaType"] != "application/vnd.dev.cosign.simplesigning.v1+json":
            continue
        payload = blob(base, repo, layer["digest"])
        signature = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
        public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        critical = json.loads(payload)["critical"]
        if critical["image"]["docker-manifest-digest"] != digest:
            fail(f"the payload names {critical['image']['docker-manifest-digest']}")
        found.append(critical)
    return found


def attestations(base, repo, digest, pubkey):
    pem = open(pubkey, "rb").read()
    tag = digest.replace(":", "-") + ".att"
    status, _, raw = get(f"{base}/v2/{repo}/manifests/{tag}", MANIFEST)
    if status != 200:
        fail(f"no {tag} tag (HTTP {status})")
    found = []
    for layer in json.loads(raw)["layers"]:
        envelope = json.loads(blob(base, repo, layer["digest"]))
        check_envelope_independently(envelope, pem)
        statement = check_statement(base64.b64decode(envelope["payload"]), digest)
        found.append({"predicateType": statement["predicateType"]})
    return found


def sign(base, repo, digest, keydir, signed_digest):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    open(f"{keydir}/other.pub", "wb").write(pem)
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": repo, "digest": {"sha256": signed_digest.split(":")[1]}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    }).encode()
    signature = key.sign(pae("application/vnd.in-toto+json", statement), ec.ECDSA(hashes.SHA256()))
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    bundle = json.dumps({
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": base64.b64encode(hashlib.sha256(der).digest()).decode()}},
        "dsseEnvelope": {
            "payload": base64.b64encode(statement).decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }).encode()
    Bundle.from_dict(json.loads(bundle))  # the reference parser accepts it
    status, content_type, subject_raw = get(f"{base}/v2/{repo}/manifests/{digest}", MANIFEST)
    empty = upload(base, repo, b"{}")
    layer = upload(base, repo, bundle)
    annotations = {
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
        "org.opencontainers.image.created": "2026-12-07T00:00:00.000Z",
    }
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": layer, "size": len(bundle),
                    "annotations": {"org.opencontainers.image.title": f"sha256-{digest.split(':')[1]}.sigstore.json"}}],
        "subject": {"mediaType": MANIFEST, "digest": digest, "size": len(subject_raw)},
        "annotations": annotations,
    }).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    put(f"{base}/v2/{repo}/manifests/{manifest_digest}", manifest, MANIFEST)
    tag = digest.replace(":", "-")
    status, _, raw = get(f"{base}/v2/{repo}/manifests/{tag}", INDEX)
    index = json.loads(raw) if status == 200 else {"schemaVersion": 2, "mediaType": INDEX, "manifests": []}
    index["manifests"].append({"mediaType": MANIFEST, "digest": manifest_digest, "size": len(manifest),
                               "artifactType": BUNDLE, "annotations": annotations})
    put(f"{base}/v2/{repo}/manifests/{tag}", json.dumps(index).encode(), INDEX)
    return [{"attached": manifest_digest}]


if __name__ == "__main__":
    command, base, repo, digest = sys.argv[1:5]
    if command == "sign":
        result = sign(base, repo, digest, sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else digest)
    else:
        result = {"bundles": bundles, "legacy": legacy, "attestations": attestations}[command](base, repo, digest, sys.argv[5])
    if not result:
        fail("nothing found")
    print(json.dumps(result))
