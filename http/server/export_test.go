package server

// OpenConns is how many connections s holds open, for the external tests
// (package server_test) that wait for a connection to come or go.
func OpenConns(s *Server) int { return s.conns.count() }
