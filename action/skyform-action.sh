#!/usr/bin/env bash
# skyform-action.sh: the logic of the skyform GitHub Action (action.yml), usable outside GitHub too
# (the GitLab recipe and the tests run it directly). Every GitHub variable is optional.
#
#   skyform-action.sh plan      run `skyform plan`, write the comment body, the job summary and the outputs
#   skyform-action.sh verdict   fail (exit 1) when the plan had errors or refused changes
#
# plan mode reads:
#   SKYFORM_BIN          the skyform binary (default: skyform, from PATH)
#   INPUT_PATHS          manifest paths, whitespace-separated (default: .); a path with spaces is not supported
#   INPUT_API_URL        --api-url URL (optional; otherwise skyform reads SKYLIGHT_API_URL)
#   INPUT_TARGET         whitespace-separated, one --target each (a KIND/NAME with spaces is not supported here)
#   INPUT_PRUNE          whitespace-separated kinds, one --prune each
#   INPUT_ALLOW_DELETES  whitespace-separated kinds, one --allow-deletes each
#   INPUT_BASE           --base REF (optional): split drift already on the base from what the change does
#   SKYFORM_ACTION_DIR   where files go (default: ${RUNNER_TEMP:-/tmp}/skyform)
#   GITHUB_STEP_SUMMARY  if set, the comment body is appended to it
#   GITHUB_OUTPUT        if set, the outputs below are appended to it
#   SKYLIGHT_API_KEY     read by skyform itself; this script never reads or prints it
# It writes $SKYFORM_ACTION_DIR/plan.json (skyform's saved plan, when skyform wrote one),
# $SKYFORM_ACTION_DIR/comment.md, stdout.md and stderr.txt, and prints (and appends to GITHUB_OUTPUT):
#   exit-code=N  has-changes=true|false  plan-file=PATH|(empty)  comment-file=PATH
# It exits 0 whatever the plan found, so the comment is still posted; it exits 127 only when skyform could not
# be run at all, and 2 on a bad mode.
#
# verdict mode reads SKYFORM_EXIT (plan mode's exit-code) and exits 0 for 0 (no changes) and 2 (changes),
# otherwise prints an ::error:: line and exits 1.
set -euo pipefail

readonly MARKER='<!-- skyform-plan -->'
# A pull-request comment holds 65,536 characters; skyform keeps a Markdown plan under 60,000.
readonly COMMENT_MAX_CHARS=65000
readonly STDERR_MAX_LINES=80
readonly STDERR_MAX_BYTES=8000

die() {
  printf '::error::%s\n' "$1"
  exit "${2:-1}"
}

# The longest run of backticks in a file, plus one (at least 3): a fence the text cannot close.
fence_for() {
  local longest
  longest=$(grep -oE '`+' "$1" 2>/dev/null | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  local n=$((longest + 1))
  if ((n < 3)); then n=3; fi
  printf '%*s' "$n" '' | tr ' ' '`'
}

# Print the file's last lines, bounded, dropping a line cut by the byte bound.
bounded_tail() {
  local text
  text=$(tail -n "$STDERR_MAX_LINES" "$1")
  if ((${#text} > STDERR_MAX_BYTES)); then
    printf '%s\n' "$text" | tail -c "$STDERR_MAX_BYTES" | tail -n +2
    return 1
  fi
  printf '%s\n' "$text"
  [[ $(wc -l <"$1") -le $STDERR_MAX_LINES ]]
}

# The number of changes in a saved plan (creates, updates, deletes, actions), empty if unknown.
count_changes() {
  local plan=$1
  [[ -s $plan ]] && command -v jq >/dev/null 2>&1 || return 0
  jq -r '.summary | (.create // 0) + (.update // 0) + (.delete // 0) + (.action // 0)' "$plan" 2>/dev/null || true
}

# With --base: how many changes are this pull request's and how many drift already at the base, else empty.
base_split() {
  local plan=$1
  [[ -s $plan ]] && command -v jq >/dev/null 2>&1 || return 0
  jq -r 'if .base then " (\(.base.pull_request // 0) from this pull request, \(.base.drift // 0) drift already at the base)" else "" end' \
    "$plan" 2>/dev/null || true
}

verdict_heading() {
  local code=$1 count=$2 split=$3
  case $code in
    0) echo 'no changes' ;;
    2)
      case $count in
        '') echo "changes to apply$split" ;;
        1) echo "1 change$split" ;;
        *) echo "$count changes$split" ;;
      esac
      ;;
    3) echo "refused changes — this plan cannot be applied$split" ;;
    1) echo 'error' ;;
    130 | 143) echo 'interrupted' ;;
    *) echo "unexpected exit code $code" ;;
  esac
}

cmd_plan() {
  local bin=${SKYFORM_BIN:-skyform}
  local dir=${SKYFORM_ACTION_DIR:-${RUNNER_TEMP:-/tmp}/skyform}
  if ! command -v "$bin" >/dev/null 2>&1; then
    die "skyform could not be run: '$bin' is not an executable or on PATH (set SKYFORM_BIN)" 127
  fi
  mkdir -p "$dir"
  local plan_file=$dir/plan.json comment_file=$dir/comment.md
  local out_file=$dir/stdout.md err_file=$dir/stderr.txt
  # Nothing from an earlier run may pass for this one's.
  rm -f "$plan_file" "$comment_file" "$out_file" "$err_file"

  # Whitespace-separated lists (spaces, tabs, newlines) into arrays, never globbed: read -d '' reads up to
  # NUL, so every line counts, and returns 1 at the end of its input.
  local -a paths=() targets=() prunes=() allows=()
  read -r -d '' -a paths <<<"${INPUT_PATHS:-}" || true
  read -r -d '' -a targets <<<"${INPUT_TARGET:-}" || true
  read -r -d '' -a prunes <<<"${INPUT_PRUNE:-}" || true
  read -r -d '' -a allows <<<"${INPUT_ALLOW_DELETES:-}" || true
  if ((${#paths[@]} == 0)); then paths=(.); fi

  local -a args=(plan "${paths[@]}" --format markdown --out "$plan_file" --detailed-exitcode)
  if [[ -n ${INPUT_API_URL:-} ]]; then args+=(--api-url "$INPUT_API_URL"); fi
  local item
  for item in ${targets[@]+"${targets[@]}"}; do args+=(--target "$item"); done
  for item in ${prunes[@]+"${prunes[@]}"}; do args+=(--prune "$item"); done
  for item in ${allows[@]+"${allows[@]}"}; do args+=(--allow-deletes "$item"); done
  if [[ -n ${INPUT_BASE:-} ]]; then args+=(--base "$INPUT_BASE"); fi

  local code=0
  "$bin" "${args[@]}" >"$out_file" 2>"$err_file" </dev/null || code=$?
  if ((code == 126 || code == 127)); then
    cat "$err_file" >&2
    die "skyform could not be run: '$bin' exited $code" 127
  fi

  # skyform's stderr (already redacted by it) goes to the log. Inside GitHub, workflow commands in it are
  # switched off, so a name in a manifest cannot write ::error:: or ::add-mask:: lines.
  if [[ -s $err_file ]]; then
    local token=''
    if [[ ${GITHUB_ACTIONS:-} == true ]]; then
      token=skyform-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
      echo "::stop-commands::$token" >&2
    fi
    cat "$err_file" >&2
    if [[ -n $token ]]; then echo "::$token::" >&2; fi
  fi

  local has_changes=false
  if ((code == 2 || code == 3)); then has_changes=true; fi
  if [[ ! -f $plan_file ]]; then plan_file=''; fi

  # The comment: marker, verdict, the plan (its own "### skyform plan" title dropped: the verdict is the
  # title), and on errors skyform's stderr, fenced.
  local body plan_text='' heading
  heading=$(verdict_heading "$code" "$(count_changes "$plan_file")" "$(base_split "$plan_file")")
  if [[ -s $out_file ]]; then
    plan_text=$(<"$out_file")
    if [[ $plan_text == '### skyform plan'$'\n'* ]]; then
      plan_text=${plan_text#*$'\n'}
    fi
  fi
  local err_block=''
  if ((code != 0 && code != 2)) && [[ -s $err_file ]]; then
    local fence tail_text note=''
    fence=$(fence_for "$err_file")
    tail_text=$(bounded_tail "$err_file") || note=$'\n_(the start of the error output is cut; the job log has all of it)_\n'
    err_block=$(printf '%s\n%s\n%s\n%s' "$fence" "$tail_text" "$fence" "$note")
  fi

  body=$(
    printf '%s\n### skyform plan: %s\n' "$MARKER" "$heading"
    [[ -n $plan_text ]] && printf '%s\n' "$plan_text"
    [[ -n $err_block ]] && printf '\n%s\n' "$err_block"
    true
  )
  if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
    printf '%s\n\n' "$body" >>"$GITHUB_STEP_SUMMARY"
  fi
  if ((${#body} > COMMENT_MAX_CHARS)); then
    local where='the job summary or the saved plan'
    body=$(
      printf '%s\n### skyform plan: %s\n\n' "$MARKER" "$heading"
      printf 'The plan is too long for a comment (%d characters): see %s.\n' "${#plan_text}" "$where"
      [[ -n $err_block ]] && printf '\n%s\n' "$err_block"
      true
    )
  fi
  printf '%s\n' "$body" >"$comment_file"

  local outputs
  outputs=$(printf 'exit-code=%s\nhas-changes=%s\nplan-file=%s\ncomment-file=%s\n' \
    "$code" "$has_changes" "$plan_file" "$comment_file")
  printf '%s\n' "$outputs"
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    printf '%s\n' "$outputs" >>"$GITHUB_OUTPUT"
  fi
  return 0
}

cmd_verdict() {
  local code=${SKYFORM_EXIT:-}
  case $code in
    0) echo 'skyform plan: no changes' ;;
    2) echo 'skyform plan: changes to apply after merge' ;;
    3) die 'the plan has refused changes; apply would fail after merge' 1 ;;
    1) die 'skyform plan failed: see the comment/job summary' 1 ;;
    '') die 'SKYFORM_EXIT is not set: run plan mode first and pass its exit-code' 1 ;;
    *) die "skyform plan was interrupted (exit $code)" 1 ;;
  esac
}

case ${1:-} in
  plan) cmd_plan ;;
  verdict) cmd_verdict ;;
  *)
    echo "usage: ${0##*/} plan|verdict" >&2
    exit 2
    ;;
esac
