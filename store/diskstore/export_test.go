package diskstore

// OpenFiles returns how many entry files s keeps open.
func OpenFiles(s *Store) int { return s.ix.openFiles() }
