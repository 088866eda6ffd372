package beanstalk

import (
	"bufio"
	"strconv"
)

// The fixed replies, "\r\n" included.
const (
	ReplyBadFormat      = "BAD_FORMAT\r\n"
	ReplyUnknownCommand = "UNKNOWN_COMMAND\r\n"
	ReplyExpectedCRLF   = "EXPECTED_CRLF\r\n"
	ReplyJobTooBig      = "JOB_TOO_BIG\r\n"
	ReplyOutOfMemory    = "OUT_OF_MEMORY\r\n"
	ReplyInternalError  = "INTERNAL_ERROR\r\n"
	ReplyDraining       = "DRAINING\r\n"
	ReplyNotFound       = "NOT_FOUND\r\n"
	ReplyDeleted        = "DELETED\r\n"
	ReplyReleased       = "RELEASED\r\n"
	ReplyBuried         = "BURIED\r\n"
	ReplyKicked         = "KICKED\r\n"
	ReplyTouched        = "TOUCHED\r\n"
	ReplyTimedOut       = "TIMED_OUT\r\n"
	ReplyDeadlineSoon   = "DEADLINE_SOON\r\n"
	ReplyNotIgnored     = "NOT_IGNORED\r\n"
	ReplyPaused         = "PAUSED\r\n"
)

// ErrorReply returns the reply to a protocol error of ReadCommand, or ""
// if err is not one.
func ErrorReply(err error) string {
	switch err {
	case ErrBadFormat:
		return ReplyBadFormat
	case ErrUnknownCommand:
		return ReplyUnknownCommand
	case ErrExpectedCRLF:
		return ReplyExpectedCRLF
	case ErrJobTooBig:
		return ReplyJobTooBig
	}
	return ""
}

// Writer writes replies into a buffered writer; the caller decides when to
// Flush (beanstalkd's replies to pipelined commands may share a write).
// Write errors are sticky in the bufio.Writer and surface at Flush.
type Writer struct {
	bw      *bufio.Writer
	scratch [64]byte
}

// NewWriter returns a Writer on bw.
func NewWriter(bw *bufio.Writer) *Writer { return &Writer{bw: bw} }

// Flush sends the buffered replies.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Buffered returns the number of reply bytes not yet sent.
func (w *Writer) Buffered() int { return w.bw.Buffered() }

// Reply writes a fixed reply such as ReplyDeleted.
func (w *Writer) Reply(msg string) { _, _ = w.bw.WriteString(msg) }

// Number writes "<word> <n>\r\n" (INSERTED, BURIED, KICKED, WATCHING).
func (w *Writer) Number(word string, n uint64) {
	b := append(w.scratch[:0], word...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, n, 10)
	b = append(b, '\r', '\n')
	_, _ = w.bw.Write(b)
}

// Named writes "<word> <name>\r\n" (USING).
func (w *Writer) Named(word, name string) {
	_, _ = w.bw.WriteString(word)
	_ = w.bw.WriteByte(' ')
	_, _ = w.bw.WriteString(name)
	_, _ = w.bw.WriteString("\r\n")
}

// Job writes "<word> <id> <bytes>\r\n<body>\r\n" (RESERVED, FOUND).
func (w *Writer) Job(word string, id uint64, body []byte) {
	b := append(w.scratch[:0], word...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, '\r', '\n')
	_, _ = w.bw.Write(b)
	_, _ = w.bw.Write(body)
	_, _ = w.bw.WriteString("\r\n")
}

// OK writes "OK <bytes>\r\n<data>\r\n" (the stats and list replies).
func (w *Writer) OK(data []byte) {
	b := append(w.scratch[:0], "OK "...)
	b = strconv.AppendInt(b, int64(len(data)), 10)
	b = append(b, '\r', '\n')
	_, _ = w.bw.Write(b)
	_, _ = w.bw.Write(data)
	_, _ = w.bw.WriteString("\r\n")
}
