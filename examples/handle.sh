#!/bin/sh
# The handler of examples/hot-reload.yaml and examples/worker.yaml: the
# message body arrives on stdin; what it prints is the handler's output.
# Exit non-zero to fail; edit this file and the next retry runs the new code.
body=$(cat)
# BUG: a call without an "email" field fails. Delete this line and the next to fix it.
case $body in *'"email"'*) ;; *) echo "no email in $body" >&2; exit 1 ;; esac
echo "handling $REPRIEVE_MESSAGE_ID (attempt $REPRIEVE_ATTEMPT): $body"
