package collector

import "sync"

// DefaultRoomsPerAccount is how many rooms one login watches at most unless
// told otherwise. docs/protocol.md §6.2 and §10.2: one account on many rooms is
// throttled; a recorder user kept only 5–6 rooms stable per account
// (2026-07), and volunteer collectors stay near 15 connections per client.
// Five is the figure that was seen to hold.
const DefaultRoomsPerAccount = 5

// accountPool hands out login slots: account i may watch at most perAccount
// rooms at once. A room that gets no slot is watched anonymously (a
// sample) or, with LoggedInOnly, waits for one. Slots go to the least used
// account, so rooms spread evenly. Safe for concurrent use.
type accountPool struct {
	mu         sync.Mutex
	perAccount int
	used       []int
	lapsed     []bool // nav said the login is gone; takes no new rooms
}

func newAccountPool(accounts, perAccount int) *accountPool {
	if perAccount <= 0 {
		perAccount = DefaultRoomsPerAccount
	}
	return &accountPool{perAccount: perAccount, used: make([]int, accounts), lapsed: make([]bool, accounts)}
}

// acquire returns the account index of a free slot, or -1 when every
// account's budget is used (or there are no accounts).
func (p *accountPool) acquire() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i, n := range p.used {
		if p.lapsed[i] || n >= p.perAccount {
			continue
		}
		if best < 0 || n < p.used[best] {
			best = i
		}
	}
	if best >= 0 {
		p.used[best]++
	}
	return best
}

// release gives back a slot from acquire; -1 is ignored.
func (p *accountPool) release(i int) {
	if i < 0 {
		return
	}
	p.mu.Lock()
	p.used[i]--
	p.mu.Unlock()
}

// hasFree reports whether acquire would succeed now.
func (p *accountPool) hasFree() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, n := range p.used {
		if !p.lapsed[i] && n < p.perAccount {
			return true
		}
	}
	return false
}

// setLapsed marks account i's login as gone (or back).
func (p *accountPool) setLapsed(i int, lapsed bool) {
	p.mu.Lock()
	p.lapsed[i] = lapsed
	p.mu.Unlock()
}

// accounts returns how many accounts the pool has.
func (p *accountPool) accounts() int { return len(p.used) }
