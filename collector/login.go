package collector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/danmakud/danmakud/roomsource"
)

// LoginChecker re-checks account i's login (nav); *roomsource.Client
// implements it.
type LoginChecker interface {
	Login(ctx context.Context, account int) (mid int64, err error)
}

// LoginWatch checks every account's login at start and then at an
// interval. A lapsed login is an error in the log (shown even when only
// errors are), logged once per change and counted; the collector then
// gives the account no new rooms and its rooms continue anonymously
// (Collector.SetLoginLapsed). Check and Run must not run concurrently;
// LoggedIn is safe for concurrent use.
type LoginWatch struct {
	api    LoginChecker
	col    *Collector
	accts  []*roomsource.Account
	log    *slog.Logger
	obs    LoginObserver
	lapsed []bool

	mu       sync.Mutex
	loggedIn int
}

// NewLoginWatch watches accts (indexes as in the API's accounts) for
// col, telling obs what it finds. log and obs may be nil.
func NewLoginWatch(api LoginChecker, col *Collector, accts []*roomsource.Account, log *slog.Logger, obs LoginObserver) *LoginWatch {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if obs == nil {
		obs = nopObserver{}
	}
	return &LoginWatch{api: api, col: col, accts: accts, log: log, obs: obs, lapsed: make([]bool, len(accts))}
}

// LoggedIn is how many accounts were logged in at the last check.
func (lw *LoginWatch) LoggedIn() int {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.loggedIn
}

// Check checks every account once. A check that fails for another
// reason than a refused login (the network) keeps the account's state.
func (lw *LoginWatch) Check(ctx context.Context) {
	ok := 0
	for i, a := range lw.accts {
		mid, err := lw.api.Login(ctx, i)
		switch {
		case errors.Is(err, roomsource.ErrNotLoggedIn):
			if !lw.lapsed[i] {
				lw.lapsed[i] = true
				lw.obs.LoginLapse()
				lw.log.Error("login refused: Bilibili says this cookie is not logged in; its rooms are watched anonymously (a sample). Run danmakud login again", "file", a.Label)
			}
			lw.col.SetLoginLapsed(i, true)
		case err != nil:
			lw.log.Warn("could not check the login; keeping it", "file", a.Label, "err", err)
			if !lw.lapsed[i] {
				ok++
			}
		default:
			if lw.lapsed[i] {
				lw.log.Info("login accepted again", "file", a.Label, "uid", mid)
			} else {
				lw.log.Info("logged in", "file", a.Label, "uid", mid)
			}
			lw.lapsed[i] = false
			lw.col.SetLoginLapsed(i, false)
			ok++
		}
	}
	lw.mu.Lock()
	lw.loggedIn = ok
	lw.mu.Unlock()
	lw.obs.SetAccounts(ok, len(lw.accts)-ok)
}

// Run checks every interval until ctx is done.
func (lw *LoginWatch) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lw.Check(ctx)
		}
	}
}
