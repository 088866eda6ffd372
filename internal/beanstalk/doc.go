// Package beanstalk is the beanstalkd wire protocol (version 1.12) as a
// codec: it frames and parses command lines, reads job bodies and writes
// replies, byte for byte as beanstalkd does, and knows nothing of sockets
// or of the engine.
//
// Commands are found through a dispatch table (see Register): beanstalkd's
// own commands come first, in the order beanstalkd tests their prefixes,
// and extension commands are appended from files of their own. A line
// that no entry matches is UNKNOWN_COMMAND, exactly where beanstalkd would
// say so, so extensions never change the reply to a beanstalkd command.
//
// The framing rules copied from beanstalkd (see Reader):
//   - a command line is at most MaxLineLen bytes including "\r\n"; a line
//     ends at the first '\r' if '\n' follows it. A longer line is
//     discarded up to its end and answered BAD_FORMAT;
//   - a line containing a NUL byte is BAD_FORMAT;
//   - a put whose size exceeds the maximum has its body (size+2 bytes)
//     skipped and is answered JOB_TOO_BIG;
//   - a body not followed by "\r\n" is answered EXPECTED_CRLF.
package beanstalk
