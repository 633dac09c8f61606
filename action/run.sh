#!/usr/bin/env bash
# The step of the GitHub Action (action.yml): turns the inputs of the bash
# script's action into flags, gets the binary for this runner (the `binary`
# input, else the release asset for its architecture, checked against the
# checksums this commit of the action records, see release_record), and
# runs the deploy with --output json. The binary itself writes `result` and
# `task_definition` to $GITHUB_OUTPUT; when it cannot, this writes
# `result=error`.
#
# Testing hook: ECS_DEPLOY_RELEASE_URL replaces the release download URL.
set -euo pipefail
# A `fail` inside $(…) ends the whole step, not only the substitution.
shopt -s inherit_errexit

fail() {
  echo "ecs-deploy action: $*" >&2
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "result=error" >>"$GITHUB_OUTPUT"; fi
  exit 3
}

# What a release commit of this action records about itself, written by
# the release workflow (.github/workflows/release.yml) into the commit that
# the release's tag points at: VERSION (the tag) and SHA256SUMS (its
# assets'). An action used at that tag, or pinned to that commit's SHA,
# takes both from its own tree, so what it runs is what the pinned commit
# says, whatever the release's files say later. A commit of main has none.
release_record="$(dirname "${BASH_SOURCE[0]}")/release"

# The release this tree records; nothing on a commit of a branch.
recorded_release() {
  if [ -f "$release_record/VERSION" ]; then tr -d '[:space:]' <"$release_record/VERSION"; fi
}

# The release to download: the version input, else the one this tree
# records, else the tag the action is used at.
release_version() {
  local version="${INPUT_VERSION:-$(recorded_release)}"
  if [ -z "$version" ]; then
    case "${ACTION_REF:-}" in
      v[0-9]*) version="$ACTION_REF" ;;
      *) fail "no release to download: this action is used at ${ACTION_REF:-an unknown ref}, a commit that records no release (action/release/VERSION). Use it at a release tag or at the commit a release tag points at, or set the version input to a release tag such as v0.2.0" ;;
    esac
  fi
  [[ "$version" =~ ^v?[0-9][0-9A-Za-z.+-]*$ ]] || fail "the release to download must be a tag such as v0.2.0, not '$version' (the version input, else the release this action records or the tag it is used at)"
  echo "$version"
}

# The release asset for this runner, downloaded and checked; prints its path.
download() {
  [ "${RUNNER_OS:-Linux}" = "Linux" ] || fail "release binaries are for Linux runners; this one is ${RUNNER_OS}"
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) fail "no release binary for $(uname -m); pass the binary input" ;;
  esac
  local version
  version=$(release_version)
  local base="${ECS_DEPLOY_RELEASE_URL:-https://github.com/${ACTION_REPOSITORY:-}/releases/download/${version}}"
  local asset="ecs-deploy-${version#v}-${arch}-linux-musl"
  local dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ecs-deploy-${version}-$$"
  mkdir -p "$dir"
  curl -fsSL --retry 3 -o "$dir/$asset" "$base/$asset" || fail "cannot download $base/$asset"
  # The checksums this tree records when it is the release asked for; only
  # for another release, those that release publishes beside its asset.
  local sums sums_name
  if [ "$(recorded_release)" = "$version" ]; then
    sums="$release_record/SHA256SUMS" sums_name="this action's action/release/SHA256SUMS"
    [ -f "$sums" ] || fail "action/release/VERSION records $version but action/release/SHA256SUMS is missing: this commit of the action is not a whole release"
  else
    sums="$dir/SHA256SUMS" sums_name="the SHA256SUMS of release $version"
    curl -fsSL --retry 3 -o "$sums" "$base/SHA256SUMS" || fail "cannot download $base/SHA256SUMS"
  fi
  local expected
  expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1 }' "$sums")
  [ -n "$expected" ] || fail "$sums_name lists no $asset"
  local actual
  actual=$(sha256sum "$dir/$asset" | awk '{ print $1 }')
  [ "$actual" = "$expected" ] || fail "checksum mismatch for $asset: $sums_name says $expected, the download is $actual"
  chmod +x "$dir/$asset"
  echo "$dir/$asset"
}

# Splits $1 into `words` as a shell splits a command line, and nothing
# more: whitespace and newlines separate words (so `args: |` may hold one
# flag a line); '…' keeps everything literal; in "…" a backslash escapes
# only ", \\, $, ` and a newline; outside quotes a backslash keeps the next
# character; a `#` that starts a word comments out the rest of its line.
# No $variable, $(command), `command` or glob is expanded or run. An error
# never repeats the text: it may hold a secret.
split_words() {
  local text="$1" word="" in_word=false quote="" char next i=0
  words=()
  while [ "$i" -lt "${#text}" ]; do
    char="${text:i:1}"
    next="${text:i+1:1}"
    i=$((i + 1))
    if [ "$quote" = "'" ]; then
      if [ "$char" = "'" ]; then quote=""; else word+="$char"; fi
    elif [ "$quote" = '"' ]; then
      if [ "$char" = '"' ]; then
        quote=""
      elif [ "$char" = '\' ] && [[ "$next" == [\"\$\`\\] ]]; then
        word+="$next"
        i=$((i + 1))
      elif [ "$char" = '\' ] && [ "$next" = $'\n' ]; then
        i=$((i + 1))
      else
        word+="$char"
      fi
    else
      case "$char" in
        ' ' | $'\t' | $'\n')
          if $in_word; then words+=("$word"); fi
          word="" in_word=false
          ;;
        "'" | '"') quote="$char" in_word=true ;;
        '\')
          if [ -z "$next" ]; then # a backslash at the very end stays, as in bash
            word+="$char" in_word=true
          elif [ "$next" != $'\n' ]; then
            word+="$next" in_word=true
          fi
          i=$((i + 1))
          ;;
        '#')
          if $in_word; then
            word+="$char"
          else
            while [ "$i" -lt "${#text}" ] && [ "${text:i:1}" != $'\n' ]; do i=$((i + 1)); done
          fi
          ;;
        *) word+="$char" in_word=true ;;
      esac
    fi
  done
  [ -z "$quote" ] || fail "the args input opens a $quote quote that it never closes; quote a value with spaces as a shell would, 'like this' or \"like this\" (nothing in args is expanded)"
  if $in_word; then words+=("$word"); fi
}

# Whether the flags so far deploy to a service: not -d, not the answer to a
# paused deployment, not a wait for (or the undoing of) one started elsewhere.
deploys_to_a_service() {
  local flag
  for flag in "${args[@]}"; do
    case "$flag" in
      -d | --task-definition | --task-definition=* | --continue-deployment | --rollback-deployment | --wait-only) return 1 ;;
    esac
  done
}

# Runs the deploy, "$@", as a child rather than with exec: a binary that
# stops before a run (a usage error) or dies writes no result, and then
# this adds `result=error` to $GITHUB_OUTPUT itself. Signals sent to this
# script go on to the binary, as under exec; its exit status is the step's.
run_deploy() {
  local outputs_before=0 status=0 again forwarded="" signal child
  if [ -n "${GITHUB_OUTPUT:-}" ] && [ -f "$GITHUB_OUTPUT" ]; then
    outputs_before=$(wc -c <"$GITHUB_OUTPUT")
  fi
  "$@" &
  child=$!
  for signal in INT TERM HUP QUIT; do
    # shellcheck disable=SC2064 # the signal and the pid are meant to be expanded now
    trap "forwarded=$signal; kill -$signal $child 2>/dev/null || true" "$signal"
  done
  wait "$child" || status=$?
  # A trapped signal ends `wait` early (128 + its number) while the binary
  # goes on to report where it stopped: wait for it again. (127: it had
  # already ended and its status was read.)
  while [ -n "$forwarded" ]; do
    forwarded=""
    again=0
    wait "$child" 2>/dev/null || again=$?
    if [ "$again" -ne 127 ]; then status=$again; fi
  done
  if [ "$status" -ne 0 ] && [ -n "${GITHUB_OUTPUT:-}" ] &&
    ! tail -c +"$((outputs_before + 1))" "$GITHUB_OUTPUT" 2>/dev/null | grep -q '^result='; then
    echo "result=error" >>"$GITHUB_OUTPUT"
  fi
  return "$status"
}

args=()
# A flag input and its value, as the bash script's action passes them: the
# flag input when set (the value follows, even empty: `--image ''` is
# refused as upstream refuses it), else `default` when the value is set.
pair() {
  local flag="$1" value="$2" default="$3"
  if [ -n "$flag" ]; then
    args+=("$flag" "$value")
  elif [ -n "$value" ]; then
    args+=("$default" "$value")
  fi
}
# A switch: on when its flag input is set (unless the value says false) or
# its value is true.
switch() {
  local flag="$1" value="$2" default="$3"
  if [ "$value" = "false" ]; then
    return
  elif [ -n "$flag" ]; then
    args+=("$flag")
  elif [ "$value" = "true" ]; then
    args+=("$default")
  fi
}

# Keys go through the environment, not the command line (where `ps` shows them).
if [ -n "${INPUT_AWS_ACCESS_KEY:-}" ]; then export AWS_ACCESS_KEY_ID="$INPUT_AWS_ACCESS_KEY"; fi
if [ -n "${INPUT_AWS_SECRET_KEY:-}" ]; then export AWS_SECRET_ACCESS_KEY="$INPUT_AWS_SECRET_KEY"; fi

pair "${INPUT_CLUSTER_CMD:-}" "${INPUT_CLUSTER:-}" --cluster
pair "${INPUT_SERVICE_NAME_CMD:-}" "${INPUT_SERVICE_NAME:-}" --service-name
pair "${INPUT_TASK_DEFINITION_CMD:-}" "${INPUT_TASK_DEFINITION:-}" --task-definition
pair "${INPUT_IMAGE_CMD:-}" "${INPUT_IMAGE:-}" --image
pair "${INPUT_REGION_CMD:-}" "${INPUT_REGION:-}" --region
pair "${INPUT_PROFILE_CMD:-}" "${INPUT_PROFILE:-}" --profile
pair "${INPUT_AWS_ASSUME_ROLE_CMD:-}" "${INPUT_AWS_ASSUME_ROLE:-}" --aws-assume-role
pair "${INPUT_DESIRED_COUNT_CMD:-}" "${INPUT_DESIRED_COUNT:-}" --desired-count
pair "${INPUT_TIMEOUT_CMD:-}" "${INPUT_TIMEOUT:-}" --timeout
pair "${INPUT_TAG_ENV_VAR_CMD:-}" "${INPUT_TAG_ENV_VAR:-}" --tag-env-var
pair "${INPUT_TAG_ONLY_CMD:-}" "${INPUT_TAG_ONLY:-}" --tag-only
pair "${INPUT_MAX_DEFINITIONS_CMD:-}" "${INPUT_MAX_DEFINITIONS:-}" --max-definitions
pair "${INPUT_TAG_ONLY_CONTAINER_NAMES_CMD:-}" "${INPUT_TAG_ONLY_CONTAINER_NAMES:-}" --tag_only_container_names
switch "${INPUT_ENABLE_ROLLBACK_CMD:-}" "${INPUT_ENABLE_ROLLBACK:-}" --enable-rollback
switch "${INPUT_USE_LATEST_TASK_DEF_CMD:-}" "${INPUT_USE_LATEST_TASK_DEF:-}" --use-latest-task-def
switch "${INPUT_FORCE_NEW_DEPLOYMENT_CMD:-}" "${INPUT_FORCE_NEW_DEPLOYMENT:-}" --force-new-deployment
switch "${INPUT_SKIP_DEPLOYMENTS_CHECK_CMD:-}" "${INPUT_SKIP_DEPLOYMENTS_CHECK:-}" --skip-deployments-check
switch "${INPUT_RUN_TASK_CMD:-}" "${INPUT_RUN_TASK:-}" --run-task
switch "${INPUT_WAIT_FOR_SUCCESS_CMD:-}" "${INPUT_WAIT_FOR_SUCCESS:-}" --wait-for-success
switch "${INPUT_COPY_TASK_DEFINITION_TAGS_CMD:-}" "${INPUT_COPY_TASK_DEFINITION_TAGS:-}" --copy-task-definition-tags
switch "" "${INPUT_VERBOSE:-}" --verbose
pair "" "${INPUT_WAIT_UNTIL:-}" --wait-until
switch "" "${INPUT_WAIT_ONLY:-}" --wait-only
switch "" "${INPUT_ROLLBACK:-}" --rollback-deployment
split_words "${INPUT_ARGS:-}"
args+=("${words[@]}")
# Upstream's action always passes --min 100 --max 200, which mean something
# only to a deploy to a service: -d (with or without --run-task), the answer
# to a paused deployment, --wait-only and --rollback-deployment refuse them,
# so there they are left out. A
# percentage the workflow sets is passed whatever the run.
min_default="" max_default=""
if deploys_to_a_service; then min_default=100 max_default=200; fi
pair "${INPUT_MIN_CMD:-}" "${INPUT_MIN:-$min_default}" --min
pair "${INPUT_MAX_CMD:-}" "${INPUT_MAX:-$max_default}" --max

binary="${INPUT_BINARY:-}"
if [ -z "$binary" ]; then
  binary=$(download)
fi
[ -x "$binary" ] || fail "$binary is not an executable file"

run_deploy "$binary" "${args[@]}" --output json
