// Package certs holds the certificate and key a TLS port serves with: it
// loads them, refuses a pair that clients would refuse (expired, not yet
// valid, or not signed by the CA it must verify against), and reloads them
// after a renewal, keeping the pair in use when the new one is refused.
// Both the job port and the admin interface serve with a Pair.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/reprieve/reprieve/internal/clock"
)

// The reasons a certificate is refused; Load's and Reload's errors wrap
// one of them (or a file's error).
var (
	// ErrExpired: the certificate's NotAfter has passed.
	ErrExpired = errors.New("certs: certificate expired")
	// ErrNotYetValid: the certificate's NotBefore is still to come.
	ErrNotYetValid = errors.New("certs: certificate not yet valid")
	// ErrUntrusted: the certificate does not verify against the CA file.
	ErrUntrusted = errors.New("certs: certificate does not verify against the CA")
	// ErrBadPair: the files cannot be read as a certificate and its key.
	ErrBadPair = errors.New("certs: unusable certificate or key")
)

// Config names the files of a Pair.
type Config struct {
	// CertFile is the PEM certificate chain, leaf first; KeyFile its PEM
	// private key. Both required.
	CertFile, KeyFile string
	// CAFile, if set, is a PEM file of CAs the certificate must verify
	// against for server authentication (with the chain's intermediates),
	// as a client that trusts those CAs would verify it. It is read once,
	// by Load.
	CAFile string
	// Clock gives the time validity is checked at; default clock.Real().
	Clock clock.Clock
}

// Validate reports a Config that names no certificate or no key.
func (c Config) Validate() error {
	if c.CertFile == "" || c.KeyFile == "" {
		return fmt.Errorf("%w: a certificate file and a key file are both required", ErrBadPair)
	}
	return nil
}

// Pair is a certificate and key that a TLS listener serves with; Reload
// replaces it. It is safe for concurrent use.
type Pair struct {
	cfg   Config
	roots *x509.CertPool // nil without CAFile
	cur   atomic.Pointer[tls.Certificate]
}

// Load reads and checks cfg's files. Its errors name the file and say
// what is wrong: a file that cannot be read, a key that does not match,
// a certificate that is expired, not yet valid or (with CAFile) does not
// verify.
func Load(cfg Config) (*Pair, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	p := &Pair{cfg: cfg}
	if cfg.CAFile != "" {
		pool, err := LoadCAs(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file %w", err)
		}
		p.roots = pool
	}
	cert, err := p.read()
	if err != nil {
		return nil, err
	}
	p.cur.Store(cert)
	return p, nil
}

// Reload reads the files again (after a renewal) and, if the new pair
// passes Load's checks, serves it to new handshakes; connections already
// open keep theirs. A refused pair is an error and the one in use stays.
func (p *Pair) Reload() error {
	cert, err := p.read()
	if err != nil {
		return err
	}
	p.cur.Store(cert)
	return nil
}

// ReloadLogged is Reload that logs the outcome on log, what naming the
// port ("job port", "admin interface"): the new certificate's subject and
// validity at info, or the reason it was refused at error, which it also
// returns.
func (p *Pair) ReloadLogged(log *slog.Logger, what string) error {
	if err := p.Reload(); err != nil {
		log.Error(what+": TLS certificate not reloaded; keeping the one in use", "cert", p.cfg.CertFile, "err", err)
		return err
	}
	leaf := p.Leaf()
	log.Info(what+": TLS certificate reloaded", "cert", p.cfg.CertFile, "subject", leaf.Subject.String(),
		"serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// Certificate returns the pair in use.
func (p *Pair) Certificate() *tls.Certificate { return p.cur.Load() }

// Leaf returns the parsed leaf certificate of the pair in use.
func (p *Pair) Leaf() *x509.Certificate { return p.cur.Load().Leaf }

// GetCertificate is for tls.Config.GetCertificate: every handshake gets
// the pair in use at that moment.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.cur.Load(), nil
}

// read loads the files and checks the pair.
func (p *Pair) read() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(p.cfg.CertFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPair, err)
	}
	keyPEM, err := os.ReadFile(p.cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPair, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %s with key %s: %w", ErrBadPair, p.cfg.CertFile, p.cfg.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadPair, p.cfg.CertFile, err)
		}
	}
	if err := p.check(&cert); err != nil {
		return nil, fmt.Errorf("%s: %w", p.cfg.CertFile, err)
	}
	return &cert, nil
}

// LoadCAs reads a PEM file of CA certificates: the roots a client
// verifies servers with, or the CAs a server verifies client certificates
// with. Its errors start with the file's name.
func LoadCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it (want one or more \"-----BEGIN CERTIFICATE-----\" blocks)", file)
	}
	return pool, nil
}
