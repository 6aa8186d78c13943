package roomsource

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors of a QR login (QRLogin), to branch on with errors.Is. Their
// texts, and those of QRUnexpectedError and QRStepError, are written for
// the person logging in (`danmakud login` prints them as they are): they
// begin with "login:" and say what to do next.
var (
	// ErrQRExpired: the code expired before it was confirmed; start over.
	ErrQRExpired = errors.New("login: the QR code expired; run danmakud login again")
	// ErrQRTimedOut: QRLoginOptions.Timeout passed before the login was
	// confirmed and checked. QRLogin's error wraps it with the timeout.
	ErrQRTimedOut = errors.New("login: not confirmed")
	// ErrQRInterrupted: the caller's context ended the login.
	ErrQRInterrupted = errors.New("login: interrupted")
	// ErrQRNoCookies: the login was confirmed but the answer carried no
	// cookies.
	ErrQRNoCookies = errors.New("login: confirmed, but the answer set no cookies")
)

// QRUnexpectedError is a poll answer with a state QRLogin does not know
// (not one of the QR* codes); the login stops there.
type QRUnexpectedError struct {
	Code    int
	Message string // the answer's data.message
}

func (e *QRUnexpectedError) Error() string {
	return fmt.Sprintf("login: unexpected answer %d (%s)", e.Code, e.Message)
}

// QRStep names the step of a QR login that a QRStepError comes from.
type QRStep int

const (
	QRStepGenerate QRStep = iota // asking passport for a code (QRGenerate)
	QRStepSave                   // writing the cookie file and reading it back
	QRStepVerify                 // checking the saved login with nav (Login)
)

// QRStepError is a failed step of a QR login; Err is the cause.
type QRStepError struct {
	Step QRStep
	Err  error
	// File is the cookie file (QRLoginOptions.CookieFile); after
	// QRStepVerify it holds the cookies nav refused.
	File string
}

func (e *QRStepError) Error() string {
	switch e.Step {
	case QRStepGenerate:
		return "login: cannot get a QR code: " + e.Err.Error()
	case QRStepVerify:
		return "login: cookies saved to " + e.File + ", but nav does not accept them: " + e.Err.Error()
	}
	return "login: " + e.Err.Error() // QRStepSave: the cause, from writing or reading back File
}

func (e *QRStepError) Unwrap() error { return e.Err }

// QRLoginOptions configure QRLogin.
type QRLoginOptions struct {
	// CookieFile is where the login's cookies are written
	// (WriteCookieFile: mode 0600, atomically). Required.
	CookieFile string
	// Timeout bounds the whole login, from asking for the code to the nav
	// check; default 3 minutes.
	Timeout time.Duration
	// Poll is the time between two polls; default 2 s. Every poll goes
	// through the client's rate limiter.
	Poll time.Duration
	// OnCode, when set, is called once with the code to show to the user,
	// before the first poll.
	OnCode func(QRCode)
	// OnState, when set, is called with a poll's state code (QRNotScanned,
	// QRScanned, …) each time it differs from the previous poll's.
	OnState func(code int)
	// OnPollError, when set, is called with each failed poll; the login
	// polls again at the next tick. Errors that only say the login's
	// context ended are not reported.
	OnPollError func(error)
}

// QRLogin runs a whole QR login with c (normally anonymous): it asks for
// a code, polls until the code is confirmed on the phone, writes the
// cookies to opts.CookieFile and checks them with nav through a new
// client of c's configuration that holds only the new account. It
// returns the account's mid.
//
// It blocks until then, or until opts.Timeout (ErrQRTimedOut) or ctx
// (ErrQRInterrupted) ends it. A code that expires is ErrQRExpired, an
// unknown poll state a *QRUnexpectedError, a failed step a *QRStepError
// (after QRStepVerify the cookie file has been written). The callbacks
// run on the calling goroutine. No error carries a cookie value.
func (c *Client) QRLogin(ctx context.Context, opts QRLoginOptions) (mid int64, err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	qr, err := c.QRGenerate(ctx)
	if err != nil {
		return 0, &QRStepError{Step: QRStepGenerate, Err: err, File: opts.CookieFile}
	}
	if opts.OnCode != nil {
		opts.OnCode(qr)
	}
	st, err := c.qrWait(ctx, qr.Key, opts)
	if err != nil {
		return 0, err
	}
	return c.qrSave(ctx, st, opts.CookieFile)
}

// qrWait polls key every opts.Poll until the login is confirmed.
func (c *Client) qrWait(ctx context.Context, key string, opts QRLoginOptions) (QRStatus, error) {
	last := -1
	t := time.NewTicker(opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return QRStatus{}, fmt.Errorf("%w within %v; run danmakud login again", ErrQRTimedOut, opts.Timeout)
			}
			return QRStatus{}, ErrQRInterrupted
		case <-t.C:
		}
		st, err := c.QRPoll(ctx, key)
		if err != nil {
			if ctx.Err() == nil && opts.OnPollError != nil {
				opts.OnPollError(err)
			}
			continue // an ended context is reported by the select above
		}
		if st.Code != last && opts.OnState != nil {
			opts.OnState(st.Code)
		}
		last = st.Code
		switch st.Code {
		case QRSuccess:
			return st, nil
		case QRExpired:
			return QRStatus{}, ErrQRExpired
		case QRNotScanned, QRScanned:
		default:
			return QRStatus{}, &QRUnexpectedError{Code: st.Code, Message: st.Message}
		}
	}
}

// qrSave writes a confirmed login's cookies to path and checks them with
// nav.
func (c *Client) qrSave(ctx context.Context, st QRStatus, path string) (int64, error) {
	if len(st.Cookies) == 0 {
		return 0, ErrQRNoCookies
	}
	if err := WriteCookieFile(path, st.Cookies); err != nil {
		return 0, &QRStepError{Step: QRStepSave, Err: err, File: path}
	}
	acct, err := LoadCookieFile(path)
	if err != nil {
		return 0, &QRStepError{Step: QRStepSave, Err: err, File: path}
	}
	cfg := c.cfg
	cfg.Accounts, cfg.SESSDATA = []*Account{acct}, ""
	check, err := New(cfg)
	if err != nil {
		return 0, err
	}
	mid, err := check.Login(ctx, 0)
	if err != nil {
		return 0, &QRStepError{Step: QRStepVerify, Err: err, File: path}
	}
	return mid, nil
}
