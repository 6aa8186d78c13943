package protocol

// SetSlowOnly turns the DANMU_MSG fast path off, so tests can compare it
// with the general decoder.
func (d *CommandDecoder) SetSlowOnly(v bool) { d.slowOnly = v }
