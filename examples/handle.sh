#!/bin/sh
# The handler of examples/hot-reload.yaml: the message body arrives on stdin.
# Exit non-zero to fail; edit this file and the next retry runs the new code.
body=$(cat)
echo "handling $REPRIEVE_MESSAGE_ID (attempt $REPRIEVE_ATTEMPT): $body"
