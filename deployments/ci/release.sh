#!/usr/bin/env bash
# Release the repository's datasets: validate every spec, then publish each one.
#
# Usage: deployments/ci/release.sh [SPEC ...]      (default: every deployments/specs/*.yaml)
#
# Every spec is validated (`gypsum-flows check`: names, folders, metadata) before the
# first upload, so a broken spec stops the release with nothing sent. Re-running a
# release is safe: versions already published with the same files are reported as
# unchanged.
#
# Environment:
#   GYPSUM_REST_URL        the gypsum server (unset: the public instance). Locally: the
#                          URL printed by `gypsum-flows server`.
#   GYPSUM_TOKEN           token of an uploader of the specs' projects (CI: a secret).
#                          Read by the client from the environment, never printed.
#   RELEASE_DEPLOYMENT     publish through this Prefect deployment instead of in this
#                          process, e.g. publish-batch/nightly (deployments/prefect.yaml):
#                          `prefect deployment run --watch`, with the spec's absolute path
#                          as its parameter. Needs PREFECT_API_URL, a worker that can read
#                          the spec paths, and the deployment's GypsumCredentials block
#                          (which then holds the token, not GYPSUM_TOKEN).
#   RELEASE_WATCH_TIMEOUT  seconds to wait for each deployment run (default 900).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if [ "$#" -eq 0 ]; then
    set -- "$here"/../specs/*.yaml
fi
# Empty repository variables mean "not configured", not "configured as empty".
for name in GYPSUM_REST_URL GYPSUM_TOKEN PREFECT_API_URL PREFECT_API_KEY RELEASE_DEPLOYMENT; do
    if [ -z "${!name:-}" ]; then unset "$name"; fi
done

# Publishing in this process starts an embedded Prefect; its first start builds a database.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="${PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS:-120}"
# Without analytics its telemetry service does not compete with the flows for the SQLite database.
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"

specs=()
for spec in "$@"; do
    specs+=("$(realpath "$spec")")
done

echo "== validating ${#specs[@]} spec(s)"
for spec in "${specs[@]}"; do
    gypsum-flows check "$spec"
done

timeout_s="${RELEASE_WATCH_TIMEOUT:-900}"
for spec in "${specs[@]}"; do
    if [ -n "${RELEASE_DEPLOYMENT:-}" ]; then
        echo "== publishing $spec through the deployment $RELEASE_DEPLOYMENT"
        param="$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$spec")"
        # --watch exits non-zero unless the run completes; the outer timeout guards a hung watch.
        timeout "$((timeout_s + 60))" prefect deployment run "$RELEASE_DEPLOYMENT" \
            --param "spec=$param" --watch --watch-timeout "$timeout_s"
    else
        echo "== publishing $spec"
        gypsum-flows publish "$spec"
    fi
done
echo "== released ${#specs[@]} spec(s)"
