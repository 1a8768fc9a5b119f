#!/usr/bin/env bash
# The climb: one model from maturity level 0 to 6 against a running Cairn server (step 7 needs
# `cairn server --auth`, with an admin's MLFLOW_TRACKING_USERNAME/PASSWORD), printing
# `cairn maturity MODEL` after each step (examples/climb/README.md explains each level).
#
#   examples/climb/climb.sh            # every step, in order
#   examples/climb/climb.sh step2      # one step (each expects the ones before it to have run)
#   CLIMB_WORK=DIR                     # step4's pipeline project and step5's reference (default: a new
#                                      # temporary directory)
#
# Environment:
#   MLFLOW_TRACKING_URI  the server (default http://127.0.0.1:5000)
#   CLIMB_MODEL          the registered model, also the deployment's name (default climb)
#   CAIRN_BIN            the cairn binary (default: cairn on PATH)
#   PYTHON               a Python with mlflow, scikit-learn and skl2onnx (default: the repo's .venv, else python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-http://127.0.0.1:5000}
server=${MLFLOW_TRACKING_URI%/}
model=${CLIMB_MODEL:-climb}
deployment=$model
cairn=${CAIRN_BIN:-cairn}
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$root/.venv/bin/python" ]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
command -v "$cairn" >/dev/null || { echo "climb.sh: no '$cairn' (put cairn on PATH or set CAIRN_BIN)" >&2; exit 1; }
# Absolute, since step 4 runs it from its own work directory.
case $cairn in */*) cairn="$(cd "$(dirname "$cairn")" && pwd)/$(basename "$cairn")" ;; esac

# One wine (the first row of sklearn's load_wine), as an Open Inference Protocol v2 request.
request='{"inputs": [{"name": "X", "shape": [1, 13], "datatype": "FP32",
  "data": [14.23, 1.71, 2.43, 15.6, 127.0, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065.0]}]}'

say() { printf '\n== %s\n' "$*"; }

# With authentication on (step 7 needs it), every call carries the MLflow client's credentials.
curl_auth=()
if [ -n "${MLFLOW_TRACKING_USERNAME:-}" ]; then
  curl_auth=(-u "$MLFLOW_TRACKING_USERNAME:${MLFLOW_TRACKING_PASSWORD:-}")
fi

maturity() {
  say "cairn maturity $model"
  "$cairn" maturity "$model" --server "$server"
}

# Trains and registers one version; prints its number.
train() {
  "$PYTHON" "$here/train.py" --model "$model" "$@" | tee /dev/stderr | sed -n 's/^version=//p' | tail -n1
}

# Sets (or moves) an alias with the MLflow client, as any MLflow user would.
set_alias() {
  "$PYTHON" -c 'import sys, mlflow; mlflow.MlflowClient().set_registered_model_alias(*sys.argv[1:])' \
    "$model" "$1" "$2"
}

# Calls the deployment once; prints the version that answered (header x-cairn-model-version).
infer() {
  curl "${curl_auth[@]}" -sS -f -o /dev/null -D - "$server/v2/models/$deployment/infer" \
    -H 'content-type: application/json' -d "$request" \
    | tr -d '\r' | sed -n 's/^x-cairn-model-version: *//Ip'
}

# Waits (up to 60 s) until the deployment answers from version $1: serving processes pick up changes
# every --poll-ms (1 s by default).
wait_for_version() {
  local served="" deadline=$((SECONDS + 60))
  until [ "$served" = "$1" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "climb.sh: $deployment answers from '$served', not $1, after 60 s" >&2; exit 1; }
    sleep 0.2
    served=$(infer) || served=""   # a failed call just means: not yet
  done
}

# Creates the deployment, or points an existing one at the new model (so the script can be re-run).
deploy() {
  if "$cairn" deploy get "$deployment" --server "$server" >/dev/null 2>&1; then
    "$cairn" deploy update "$deployment" --model "$1" --no-canary --server "$server"
  else
    "$cairn" deploy create "$deployment" --model "$1" --server "$server"
  fi
}

step1() {
  say "step 1 - manual model building: a tracked run with params and metrics, registered as a version"
  train --kind logreg --seed 1 >/dev/null
  maturity
}

step2() {
  say "step 2 - manual deployment: serve a pinned version, call it"
  deploy "models:/$model/1"
  wait_for_version 1
  curl "${curl_auth[@]}" -sS -f "$server/v2/models/$deployment/infer" -H 'content-type: application/json' -d "$request"
  echo
  maturity
}

step3() {
  say "step 3 - automated deployment: follow the alias 'champion', then move it"
  set_alias champion 1
  deploy "models:/$model@champion"
  local version
  version=$(train --kind forest --seed 2)
  [ -n "$version" ] || { echo "climb.sh: train.py printed no version" >&2; exit 1; }
  say "moving champion to version $version; the deployment rolls it out by itself"
  set_alias champion "$version"
  wait_for_version "$version"
  echo "$deployment now answers from version $version"
  "$cairn" deploy history "$deployment" --server "$server"
  maturity
}

step4() {
  say "step 4 - CI/CD pipelines: cairn ci runs the pipeline, its gates decide, it promotes @champion"
  local work=${CLIMB_WORK:-$(mktemp -d)}
  mkdir -p "$work"
  cp "$here/pipeline/cairn.yaml" "$here/pipeline/params.yaml" "$here/pipeline/train_stage.py" \
    "$here/train.py" "$work/"
  sed -i "s/^  name: climb$/  name: $model/" "$work/cairn.yaml"
  local before
  before=$("$PYTHON" -c 'import sys, mlflow; print(mlflow.MlflowClient().get_model_version_by_alias(sys.argv[1], "champion").version)' "$model")
  # The stages' `python` is $PYTHON's; outside a pull request `cairn ci` promotes.
  (cd "$work" && PATH="$(dirname "$PYTHON"):$PATH" MLFLOW_EXPERIMENT_NAME="$model-pipeline" \
    "$cairn" ci --server "$server" --report-md ci-report.md --junit ci-junit.xml --report-json ci-report.json)
  local version
  version=$("$PYTHON" -c 'import sys, mlflow; print(mlflow.MlflowClient().get_model_version_by_alias(sys.argv[1], "champion").version)' "$model")
  [ "$version" != "$before" ] || { echo "climb.sh: the pipeline did not move @champion (still v$before)" >&2; exit 1; }
  say "the gates passed and moved champion from version $before to $version; the deployment rolls it out"
  wait_for_version "$version"
  echo "$deployment now answers from version $version (report: $work/ci-report.md)"
  maturity
}

# Evaluates the monitor until its window holds $2 rows; then prints the snapshot. With $3 = drift, until
# the snapshot reports dataset drift (logged predictions reach the store in batches, every ~2 s).
run_monitor() {
  local out deadline=$((SECONDS + 60))
  while :; do
    out=$("$cairn" monitor run "$1" --server "$server" --json 2>/dev/null) || out=""
    if [ -n "$out" ] && "$PYTHON" -c '
import json, sys
s = json.loads(sys.argv[1])["snapshot"]
ok = s["rows"] >= int(sys.argv[2]) and (sys.argv[3] != "drift" or s["values"].get("dataset.drifted") == 1)
sys.exit(0 if ok else 1)' "$out" "$2" "${3:-}"; then
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] || { echo "climb.sh: monitor $1 never showed what was expected: $out" >&2; exit 1; }
    sleep 0.5
  done
  "$cairn" monitor report "$1" --server "$server" || true   # exit 1 means dataset drift
}

step5() {
  say "step 5 - monitoring: the deployment logs its predictions; a monitor compares them with the training data"
  local work=${CLIMB_WORK:-$(mktemp -d)} monitor="$model-drift"
  mkdir -p "$work"
  "$PYTHON" "$here/traffic.py" reference "$work/reference.csv"
  "$cairn" monitor delete "$monitor" --server "$server" >/dev/null 2>&1 || true
  "$cairn" monitor create "$monitor" --deployment "$deployment" --reference "$work/reference.csv" \
    --rows 200 --server "$server"
  "$cairn" monitor alert "$monitor" drift --when 'dataset.share >= 0.5' --server "$server"
  say "200 rows of ordinary traffic: no drift"
  "$PYTHON" "$here/traffic.py" send --server "$server" --deployment "$deployment" --seed 5
  run_monitor "$monitor" 200
  say "200 rows shifted by two standard deviations: the monitor sees drift and the rule fires"
  "$PYTHON" "$here/traffic.py" send --server "$server" --deployment "$deployment" --seed 6 --shift 2
  run_monitor "$monitor" 200 drift
  "$cairn" monitor alerts "$monitor" --server "$server"
  maturity
}

champion() {
  "$PYTHON" -c 'import sys, mlflow; print(mlflow.MlflowClient().get_model_version_by_alias(sys.argv[1], "champion").version)' "$model"
}

# Waits (up to 240 s) for the retraining pipeline's newest run with an alert as its cause to end;
# prints its status and exit code.
wait_for_retraining() {
  local out deadline=$((SECONDS + 240))
  while :; do
    out=$(curl "${curl_auth[@]}" -sS -f "$server/api/cairn/v1/pipelines/$1/runs?max_results=1" 2>/dev/null) || out=""
    if [ -n "$out" ] && "$PYTHON" -c '
import json, sys
runs = json.loads(sys.argv[1])["pipeline_runs"]
r = runs[0] if runs else None
ok = r and r["cause"]["kind"] == "alert" and r["run_id"] != sys.argv[2] and r["status"] not in ("queued", "running")
if ok:
    print(r["status"], r.get("exit_code"), r["run_id"], "cause:", json.dumps(r["cause"]))
sys.exit(0 if ok else 1)' "$out" "${2:-}"; then
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] || { echo "climb.sh: no retraining run of $1 ended: $out" >&2; exit 1; }
    sleep 1
  done
}

# Sends ordinary traffic (every request must succeed) until @champion is version $1, or 120 s pass.
traffic_until_champion() {
  local deadline=$((SECONDS + 120))
  until [ "$(champion)" = "$1" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "climb.sh: @champion is still v$(champion), not v$1" >&2; exit 1; }
    "$PYTHON" "$here/traffic.py" send --server "$server" --deployment "$deployment" --requests 20 --rows 5 --seed "$SECONDS" >/dev/null
  done
}

step6() {
  say "step 6 - continuous training: drift -> alert -> trigger -> pipeline run -> gates -> @candidate -> canary -> @champion"
  local work=${CLIMB_WORK:-$(mktemp -d)} monitor="$model-drift" pipeline="$model-retrain"
  mkdir -p "$work/retrain"
  cp "$here/retrain/cairn.yaml" "$here/retrain/params.yaml" "$here/pipeline/train_stage.py" "$here/train.py" "$work/retrain/"
  # The model's and monitor's names, and the climb's Python for the stage (the server runs it).
  sed -i -e "s/^name: climb-retrain$/name: $pipeline/" -e "s/^  name: climb$/  name: $model/" \
    -e "s|alert: climb-drift/drift|alert: $monitor/drift|" -e "s|^    cmd: python |    cmd: $PYTHON |" \
    "$work/retrain/cairn.yaml"
  say "the deployment tries each new @candidate as a canary on half the traffic for 4 s"
  "$cairn" deploy update "$deployment" --rollout canary:50%/4s --server "$server"
  "$cairn" deploy get "$deployment" --server "$server"
  (cd "$work/retrain" && "$cairn" pipeline register "$pipeline" --server "$server")
  "$cairn" trigger list --pipeline "$pipeline" --server "$server"
  local before
  before=$(champion)
  say "drifted traffic again: the monitor's rule fires, the alert fires the trigger, the server retrains"
  "$PYTHON" "$here/traffic.py" send --server "$server" --deployment "$deployment" --seed 7 --shift 2
  run_monitor "$monitor" 200 drift >/dev/null
  local first
  first=$(wait_for_retraining "$pipeline")
  echo "$first"
  case $first in succeeded*) ;; *) echo "climb.sh: the retraining run did not succeed: $first" >&2; exit 1 ;; esac
  local candidate
  candidate=$("$PYTHON" -c 'import sys, mlflow; print(mlflow.MlflowClient().get_model_version_by_alias(sys.argv[1], "candidate").version)' "$model")
  say "gates passed: @candidate is version $candidate; live traffic decides the canary"
  traffic_until_champion "$candidate"
  echo "@champion moved from version $before to $candidate after the canary held"
  "$cairn" deploy history "$deployment" --server "$server"
  maturity
  say "a worse recipe: the same loop, and the gates stop it before any traffic sees it"
  sed -i "s/^  kind: forest$/  kind: stump/" "$work/retrain/params.yaml"
  (cd "$work/retrain" && "$cairn" pipeline register "$pipeline" --server "$server")
  "$PYTHON" "$here/traffic.py" send --server "$server" --deployment "$deployment" --seed 8 --shift 2
  run_monitor "$monitor" 200 drift >/dev/null
  local second
  second=$(wait_for_retraining "$pipeline" "$(echo "$first" | cut -d' ' -f3)")
  echo "$second"
  case $second in "failed 1 "*) ;; *) echo "climb.sh: the worse model was not stopped by its gates: $second" >&2; exit 1 ;; esac
  [ "$(champion)" = "$candidate" ] || { echo "climb.sh: @champion moved to $(champion)" >&2; exit 1; }
  echo "the gates rejected it: @champion is still version $candidate"
}

# Runs a command as another user (the MLflow client's and the CLI's credentials).
as_user() {
  local user=$1 password=$2
  shift 2
  MLFLOW_TRACKING_USERNAME="$user" MLFLOW_TRACKING_PASSWORD="$password" "$@"
}

step7() {
  say "step 7 - governance: two people, a protected @champion, a promotion request, four eyes"
  local me
  me=$(curl "${curl_auth[@]}" -sS "$server/api/cairn/v1/whoami" | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("user","") if d.get("via") != "unauthenticated" else "")')
  [ -n "$me" ] || { echo "climb.sh: step 7 needs cairn server --auth, signed in as an admin (MLFLOW_TRACKING_USERNAME/PASSWORD)" >&2; exit 1; }
  local scientist="$model-alice" approver="$model-bob" password="climb-${RANDOM}${RANDOM}-pass"
  "$cairn" user create "$scientist" --password "$password" --server "$server"
  "$cairn" user create "$approver" --password "$password" --server "$server"
  "$cairn" grant --user "$scientist" --role scientist --server "$server"
  # She may approve others' requests for this model too — but never her own: that is the four eyes.
  "$cairn" grant --user "$scientist" --role approver --model "$model" --server "$server"
  "$cairn" grant --user "$approver" --role approver --model "$model" --server "$server"
  "$cairn" protect set "$model" --alias champion --approvals 1 --server "$server"
  say "$scientist may no longer move @champion herself"
  if as_user "$scientist" "$password" "$PYTHON" -c 'import sys, mlflow; mlflow.MlflowClient().set_registered_model_alias(sys.argv[1], "champion", "1")' "$model" 2>/tmp/climb-denied.$$; then
    echo "climb.sh: a direct move of the protected @champion was allowed" >&2; exit 1
  fi
  grep -o 'PERMISSION_DENIED.*' /tmp/climb-denied.$$ | head -n1; rm -f /tmp/climb-denied.$$
  say "$scientist trains a new version, writes its model card and asks for @champion"
  local version id
  version=$(as_user "$scientist" "$password" "$PYTHON" "$here/train.py" --model "$model" --kind gboost --seed 9 | sed -n 's/^version=//p' | tail -n1)
  [ -n "$version" ] || { echo "climb.sh: train.py printed no version" >&2; exit 1; }
  as_user "$scientist" "$password" "$cairn" card edit "$model" "$version" --server "$server" \
    --set intended_use="Classify wines into three cultivars from 13 chemical measurements." \
    --set limitations="Trained on 124 wines from one region; not for other grapes or regions." \
    --set risk="Low: a wrong cultivar costs a re-test." --set risk_rating=low \
    --set owners="$scientist" --set ethical_considerations="No personal data."
  id=$(as_user "$scientist" "$password" "$cairn" promote request "$model" "$version" --alias champion \
    --reason "gradient boosting retrain" --json --server "$server" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  echo "promotion request $id is open"
  say "$scientist holds the approver role too, and still cannot approve her own request"
  if as_user "$scientist" "$password" "$cairn" promote approve "$id" --server "$server"; then
    echo "climb.sh: the requester approved her own request" >&2; exit 1
  fi
  say "$approver approves the card and the request: it applies at once and the deployment rolls it out"
  as_user "$approver" "$password" "$cairn" card approve "$model" "$version" --server "$server"
  as_user "$approver" "$password" "$cairn" promote approve "$id" --comment "checked the card and the metrics" --server "$server"
  wait_for_version "$version"
  echo "$deployment now answers from version $version"
  "$cairn" audit checkpoint --server "$server" >/dev/null
  "$cairn" audit verify --server "$server"
  "$cairn" lineage "deployment:$deployment" --server "$server"
  maturity
}

case "${1:-all}" in
  step1 | step2 | step3 | step4 | step5 | step6 | step7) "$1" ;;
  all) step1; step2; step3; step4; step5; step6; step7 ;;
  *) echo "usage: $0 [step1|step2|step3|step4|step5|step6|step7|all]" >&2; exit 2 ;;
esac
