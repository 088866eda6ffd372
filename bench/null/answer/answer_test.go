package answer

import (
	"strings"
	"testing"
)

func TestAnswer(t *testing.T) {
	var a Answerer
	x64 := strings.Repeat("x", 64)
	for _, tc := range []struct {
		line, reply string
		skip        int
	}{
		{"use bench\r\n", "USING bench\r\n", 0},
		{"put 0 0 60 64\r\n", "INSERTED 1\r\n", 66},
		{"put 1 2 3 0\r\n", "INSERTED 2\r\n", 2},
		{"put 0 0 60\r\n", "BAD_FORMAT\r\n", 0},
		{"put 0 0 60 -1\r\n", "BAD_FORMAT\r\n", 0},
		{"watch t\r\n", "WATCHING 2\r\n", 0},
		{"ignore default\r\n", "WATCHING 1\r\n", 0},
		{"reserve-with-timeout 0\r\n", "RESERVED 3 64\r\n" + x64 + "\r\n", 0},
		{"reserve\r\n", "RESERVED 4 64\r\n" + x64 + "\r\n", 0},
		{"delete 4\r\n", "DELETED\r\n", 0},
		{"stats\r\n", "UNKNOWN_COMMAND\r\n", 0},
		{"\r\n", "UNKNOWN_COMMAND\r\n", 0},
		{"put 0 0 60 5\r\n", "INSERTED 5\r\n", 7},
	} {
		reply, skip := a.Answer([]byte(tc.line))
		if string(reply) != tc.reply || skip != tc.skip {
			t.Errorf("Answer(%q) = %q, %d; want %q, %d", tc.line, reply, skip, tc.reply, tc.skip)
		}
	}
}
