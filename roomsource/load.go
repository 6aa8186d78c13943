package roomsource

import "os"

// LoadAccounts reads one account per cookie file (LoadCookieFile). With
// no files it reads the default login, DefaultCookiePath, when that file
// exists (usedDefault says so) and returns none when it does not. Errors
// name the file; cookie values never appear in them.
func LoadAccounts(files []string) (accts []*Account, usedDefault bool, err error) {
	if len(files) == 0 {
		def := DefaultCookiePath()
		if _, err := os.Stat(def); err != nil {
			return nil, false, nil
		}
		files, usedDefault = []string{def}, true
	}
	for _, f := range files {
		a, err := LoadCookieFile(f)
		if err != nil {
			return nil, usedDefault, err
		}
		accts = append(accts, a)
	}
	return accts, usedDefault, nil
}
