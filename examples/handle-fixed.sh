#!/bin/sh
# handle.sh as it is once fixed: without its two lines marked BUG.
# examples/hot-reload_test.yaml runs it to show the retried call succeeding.
body=$(cat)
echo "handling $REPRIEVE_MESSAGE_ID (attempt $REPRIEVE_ATTEMPT): $body"
