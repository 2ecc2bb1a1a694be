package lookup

// View returns a set that serves the same tables as s, over the same pools,
// breakers, statements, in-flight queries and answer cache, with each map's
// options changed by adjust: a second front that differs only in its search
// settings (the MySQL front turns every search off, because Postfix's own
// mysql: client runs them) without a second copy of any mechanism. Its
// lookups report to obs (nil: none) and log to s's logger with the given
// attributes. Call it after UseCache. Closing a view does nothing: s owns
// what the view uses.
func (s *Set) View(adjust func(MapOptions) MapOptions, obs Observer, logArgs ...any) *Set {
	v := &Set{maps: make(map[string]*Map, len(s.maps)), pools: s.pools, log: s.log.With(logArgs...), cache: s.cache, view: true}
	for name, m := range s.maps {
		v.maps[name] = &Map{
			Name: m.Name, Opts: adjust(m.Opts),
			tables:      m.tables,
			log:         m.log.With(logArgs...),
			obs:         obs,
			rejectLimit: newRateLimiter(m.rejectLimit.period),
			queryLimit:  newRateLimiter(m.queryLimit.period),
			hostLimit:   newRateLimiter(m.hostLimit.period),
			staleLimit:  newRateLimiter(m.staleLimit.period),
			cache:       m.cache,
		}
	}
	return v
}
