package broker

// A put costs two allocations when its body and its record are allocated
// apart: the body when the command is read, the record when the job is
// made. BodyBuffer lets the reader of a put ask the session for the body's
// buffer before the job exists, and hands out one that lives in the same
// allocation as the record the next Put will use.

// The record types with room for a body of up to N bytes after the
// record. The sizes put record and body (rec is 184 bytes) at the top of
// one of the runtime's size classes (208, 224, 256, 320, 448, 640 bytes),
// so that little of an allocation is left unused.
type (
	recBody24 struct {
		rec
		body [24]byte
	}
	recBody40 struct {
		rec
		body [40]byte
	}
	recBody72 struct {
		rec
		body [72]byte
	}
	recBody136 struct {
		rec
		body [136]byte
	}
	recBody264 struct {
		rec
		body [264]byte
	}
	recBody456 struct {
		rec
		body [456]byte
	}
)

// maxJointBody is the largest body allocated with its record.
const maxJointBody = 456

func (x *recBody24) parts() (*rec, []byte)  { return &x.rec, x.body[:] }
func (x *recBody40) parts() (*rec, []byte)  { return &x.rec, x.body[:] }
func (x *recBody72) parts() (*rec, []byte)  { return &x.rec, x.body[:] }
func (x *recBody136) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody264) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody456) parts() (*rec, []byte) { return &x.rec, x.body[:] }

// joint allocates a T and returns its record and a body of size bytes in
// it (size must fit).
func joint[T any, P interface {
	*T
	parts() (*rec, []byte)
}](size int) (*rec, []byte) {
	r, room := P(new(T)).parts()
	return r, room[:size:size]
}

// newRecBody returns a record and a body buffer of exactly size bytes in
// one allocation, or nil, nil for a body larger than maxJointBody.
func newRecBody(size int) (*rec, []byte) {
	switch {
	case size <= 24:
		return joint[recBody24](size)
	case size <= 40:
		return joint[recBody40](size)
	case size <= 72:
		return joint[recBody72](size)
	case size <= 136:
		return joint[recBody136](size)
	case size <= 264:
		return joint[recBody264](size)
	case size <= maxJointBody:
		return joint[recBody456](size)
	}
	return nil, nil
}

// BodyBuffer returns a buffer of exactly size bytes for the body of the
// session's next Put. A body of up to 456 bytes shares one allocation
// with the record of the job that Put makes of it (one allocation per put
// instead of two); a larger one is a plain slice. Any buffer can be given
// to Put; this one saves the allocation only if it is given to the next
// Put unchanged in length. Like Put, it must be called by the goroutine
// using the session.
func (s *Session) BodyBuffer(size int) []byte {
	r, body := newRecBody(size)
	if r == nil {
		s.spare = nil
		return make([]byte, size)
	}
	r.Body = body
	s.spare = r
	return body
}

// takeRec returns the record allocated with body by BodyBuffer, if body
// is that buffer, else a new record; either way the session's spare is
// used up.
func (s *Session) takeRec(body []byte) *rec {
	r := s.spare
	s.spare = nil
	if r != nil && len(body) == len(r.Body) && (len(body) == 0 || &body[0] == &r.Body[0]) {
		return r
	}
	return new(rec)
}
