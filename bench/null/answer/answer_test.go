package answer

import "testing"

func TestAnswer(t *testing.T) {
	var a Answerer
	for _, tc := range []struct {
		line, reply string
		skip        int
	}{
		{"use bench\r\n", "USING bench\r\n", 0},
		{"put 0 0 60 64\r\n", "INSERTED 1\r\n", 66},
		{"put 1 2 3 0\r\n", "INSERTED 2\r\n", 2},
		{"put 0 0 60\r\n", "BAD_FORMAT\r\n", 0},
		{"put 0 0 60 -1\r\n", "BAD_FORMAT\r\n", 0},
		{"stats\r\n", "UNKNOWN_COMMAND\r\n", 0},
		{"put 0 0 60 5\r\n", "INSERTED 3\r\n", 7},
	} {
		reply, skip := a.Answer([]byte(tc.line))
		if string(reply) != tc.reply || skip != tc.skip {
			t.Errorf("Answer(%q) = %q, %d; want %q, %d", tc.line, reply, skip, tc.reply, tc.skip)
		}
	}
}
