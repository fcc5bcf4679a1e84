#!/usr/bin/env bash
# Kaldi-style option parsing. SOURCE it after setting default variables:
#
#   stage=0; stop_stage=100; nj=4; config=conf/demo.yaml
#   . utils/parse_options.sh
#
# --foo-bar VALUE (or --foo_bar VALUE) sets the existing shell variable foo_bar. An option whose
# variable does not exist is an error; --name=value is an error; if the default is true/false the
# value must be true/false; an empty --cmd is an error. Parsing stops at the first argument that is
# not an option; the positional arguments stay in "$@". --help / -h prints $help_message and the
# options with their current values, then exits 0.
#
# Unlike Kaldi, --config is NOT sourced as shell code: it is an ordinary option that sets $config
# (our experiment configs are YAML files read by Python). Set config= in the script to accept it.

_po_print_help() {
  # every "name=default   # meaning" line above the parse_options.sh call, in the script and in the
  # files it sourced on the way here (steps/make_spect.sh -> steps/make_feats_common.sh)
  [ -n "${help_message:-}" ] && printf '%s\n' "$help_message"
  echo "Options (--name value; current value, then its meaning):"
  local _po_i _po_file _po_next _po_line _po_name _po_doc
  for ((_po_i = ${#BASH_SOURCE[@]} - 1; _po_i >= 2; _po_i--)); do
    _po_file=${BASH_SOURCE[$_po_i]}
    _po_next=$(basename "${BASH_SOURCE[$((_po_i - 1))]}")
    [ -f "$_po_file" ] || continue
    while IFS= read -r _po_line; do
      case "$_po_line" in \#*) ;; *parse_options.sh*|*"$_po_next"*) break ;; esac
      if [[ "$_po_line" =~ ^([A-Za-z_][A-Za-z0-9_]*)= ]]; then
        _po_name=${BASH_REMATCH[1]}
        [ "$_po_name" = help_message ] && continue
        _po_doc=""
        [[ "$_po_line" =~ [[:space:]]#[[:space:]]*(.*)$ ]] && _po_doc=${BASH_REMATCH[1]}
        [[ "$_po_doc" == fixed:* ]] && continue  # set by a wrapper, not an option
        printf '  --%-22s %-28s %s\n' "${_po_name//_/-}" "${!_po_name-}" "$_po_doc"
      fi
    done < "$_po_file"
  done
}

while true; do
  [ -z "${1:-}" ] && break  # no more arguments
  case "$1" in
    --help|-h)
      _po_print_help
      exit 0 ;;
    --*=*)
      echo "$0: options to scripts must be of the form --name value, got '$1'" >&2
      exit 1 ;;
    --)
      shift
      break ;;
    --*)
      _po_name=$(echo "${1#--}" | sed 's/-/_/g')
      if ! [[ "$_po_name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "$0: invalid option $1" >&2
        exit 1
      fi
      # the variable must exist (set, possibly empty) before parsing
      eval '[ -z "${'"$_po_name"'+xxx}" ]' && { echo "$0: invalid option $1 (see --help)" >&2; exit 1; }
      if [ $# -lt 2 ]; then
        echo "$0: option $1 needs a value" >&2
        exit 1
      fi
      _po_old=${!_po_name}
      if [ "$_po_old" = true ] || [ "$_po_old" = false ]; then
        if [ "$2" != true ] && [ "$2" != false ]; then
          echo "$0: expected \"true\" or \"false\" for $1, got \"$2\"" >&2
          exit 1
        fi
      fi
      if [ "$_po_name" = cmd ] && [ -z "$2" ]; then
        echo "$0: empty argument to --cmd option" >&2
        exit 1
      fi
      printf -v "$_po_name" '%s' "$2"
      shift 2 ;;
    *) break ;;
  esac
done

# stage numbers must be integers, and a range that runs nothing is an error, not a silent "Done."
for _po_name in stage stop_stage; do
  if [ -n "${!_po_name+x}" ] && ! [[ "${!_po_name}" =~ ^-?[0-9]+$ ]]; then
    echo "$0: --${_po_name//_/-} expects an integer, got '${!_po_name}'" >&2
    exit 1
  fi
done
if [ -n "${stage+x}" ] && [ -n "${stop_stage+x}" ] && [ "$stage" -gt "$stop_stage" ]; then
  echo "$0: --stage $stage is after --stop-stage $stop_stage: nothing would run (give --stop-stage too)" >&2
  exit 1
fi

unset _po_name _po_old
true  # so that "set -e" scripts do not exit on the last test above
