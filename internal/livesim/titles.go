package livesim

// titleOf is room i's title: Options.Titles' when it gives one, else
// generated.
func (o *Options) titleOf(i int, generated string) string {
	if t, ok := o.Titles[i]; ok {
		return t
	}
	return generated
}
