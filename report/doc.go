// Package report renders what danmakud knows for people: the text
// summary of a database (`stats`), of a collection run (`collect`'s end,
// and its progress line), of a merge and of a reparse, and the HTML
// report (`report`). It only formats; the figures come from storage and
// daemon.
package report
