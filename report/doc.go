// Package report renders what danmakud knows for people: the text
// summary of a database (`stats`) and of a collection run (`collect`'s
// end). It only formats; the figures come from storage and daemon.
package report
