#!/bin/bash
# ocirelay LAB FIXTURE (not HestiaCP's library): the few behaviours of Hestia's shell library
# that its relay CLI relies on, written for ocirelay's tests from Hestia's documented behaviour.

BIN=$HESTIA/bin
OK=0
E_ARGS=1
E_INVALID=2
E_DISABLED=11

# Every argument, quoted, as Hestia logs its commands (a HIDE'd argument would show as ******).
ARGUMENTS=""
for argument in "$@"; do
	ARGUMENTS="$ARGUMENTS '$argument'"
done

log_event() {
	mkdir -p "$HESTIA/log"
	if [ "$1" -eq 0 ]; then
		echo "$(date +'%F %T') $(basename "$0")$2" >> "$HESTIA/log/system.log"
	else
		echo "$(date +'%F %T') $(basename "$0")$2 [Error $1]" >> "$HESTIA/log/error.log"
	fi
}

check_result() {
	if [ "$1" -ne 0 ]; then
		echo "Error: $2"
		log_event "$1" "$ARGUMENTS"
		exit "$1"
	fi
}

check_args() {
	if [ "$1" -gt "$2" ]; then
		echo "Usage: $(basename "$0") $3"
		check_result "$E_ARGS" "not enough arguments" > /dev/null
	fi
}

source_conf() {
	while IFS='= ' read -r key value; do
		case "$key" in '' | \#*) continue ;; esac
		value="${value#\'}"
		value="${value%\'}"
		declare -g "$key=$value"
	done < "$1"
}

is_system_enabled() {
	if [ -z "$1" ] || [ "$1" = no ]; then
		check_result "$E_DISABLED" "$2 is not enabled"
	fi
}

is_int_format_valid() {
	if ! [[ "$1" =~ ^[0-9]+$ ]]; then
		check_result "$E_INVALID" "invalid $2 format :: $1"
	fi
}

# Hestia refuses quotes and the pipe in a password given on its command line.
format_no_quotes() {
	if [[ "$1" =~ [\'\"|] ]]; then
		check_result "$E_INVALID" "Invalid $2 contains quotes (\" or ' or | )"
	fi
}

change_sys_value() {
	if grep -q "^$1='" "$HESTIA/conf/hestia.conf"; then
		sed -i "s|^$1=.*|$1='$2'|" "$HESTIA/conf/hestia.conf"
	else
		echo "$1='$2'" >> "$HESTIA/conf/hestia.conf"
	fi
}
