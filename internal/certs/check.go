package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// check refuses a pair that a client checking it now would refuse: a leaf
// outside its validity period or, with a CA file, a chain that does not
// verify against it for server authentication. Host names are not
// checked: the names clients dial are not known here.
func (p *Pair) check(cert *tls.Certificate) error {
	leaf := cert.Leaf
	now := p.cfg.Clock.Now()
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("%w: %q expired at %s (now %s): renew it", ErrExpired, leaf.Subject.String(), stamp(leaf.NotAfter), stamp(now))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("%w: %q is valid from %s (now %s): check the clock, or wait", ErrNotYetValid, leaf.Subject.String(), stamp(leaf.NotBefore), stamp(now))
	}
	if p.roots == nil {
		return nil
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: an intermediate of the chain: %w", ErrBadPair, err)
		}
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         p.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrUntrusted, p.cfg.CAFile, err)
	}
	return nil
}
