package export

import "github.com/danmakud/danmakud/storage"

// FormatNames returns the names of the formats keep accepts (nil: all),
// in Formats order: what Options.Format may be, for help text and error
// messages.
func FormatNames(keep func(Format) bool) []string {
	var names []string
	for _, f := range Formats {
		if keep == nil || keep(f) {
			names = append(names, f.Name())
		}
	}
	return names
}

// KindNames returns the event kinds an export can select
// (storage.EventTables), in export order.
func KindNames() []string {
	var names []string
	for _, et := range storage.EventTables() {
		names = append(names, string(et.Kind))
	}
	return names
}
