package etcdstore

// Hooks for the tests of package etcdstore_test.

// Txns is how many commit transactions s has sent to etcd.
func Txns(s *Store) int64 { return s.txns.Load() }

// Conflicts is how many of those failed their conditions, so that their
// batch ran again.
func Conflicts(s *Store) int64 { return s.conflicts.Load() }

// Refused is how many batches etcd refused as too large, so that they were
// split.
func Refused(s *Store) int64 { return s.refused.Load() }

// Queued is how many Updates wait in ns's queue, not yet taken into a
// batch.
func Queued(s *Store, ns string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[ns]; q != nil {
		return len(q.pending)
	}
	return 0
}

// Queues is how many namespaces have a queue, and so a runner.
func Queues(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queues)
}

// WaitIdle waits until no runner goroutine is left.
func WaitIdle(s *Store) { s.runners.Wait() }
